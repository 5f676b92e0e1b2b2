"""WFDB uploads: header + data pairs from bytes, and the header checks made before decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.ecg.errors import InputTooLarge, MalformedEcg, UnsupportedFormat
from models.ecg.io import UploadedFile, read_paths, read_upload
from models.ecg.limits import IngestLimits
from models.ecg.record import STANDARD_LEADS

LEADS = " ".join(STANDARD_LEADS)


def _record(
    n_leads: int = 12,
    n_samples: int = 5000,
    fs_hz: int = 500,
    *,
    data_leads: int | None = None,
    comments: str = "",
) -> list[UploadedFile]:
    """A format-16 record whose lead k is a 1 Hz sine of k/10 mV (gain 1000/mV)."""
    lines = [f"rec {n_leads} {fs_hz} {n_samples}"]
    for index, lead in enumerate(STANDARD_LEADS[:n_leads]):
        lines.append(f"rec.dat 16 1000/mV 16 0 0 0 0 {lead}")
    header = ("\n".join(lines) + "\n" + comments).encode("ascii")
    time_s = np.arange(n_samples) / fs_hz
    stored = data_leads if data_leads is not None else n_leads
    samples = np.stack(
        [np.round(1000 * (k + 1) / 10 * np.sin(2 * np.pi * time_s)) for k in range(stored)]
    ).T.astype("<i2")
    return [UploadedFile("rec.hea", header), UploadedFile("rec.dat", samples.tobytes())]


def test_a_header_and_data_pair_reads_in_millivolts() -> None:
    result = read_upload(_record(comments="#<age>: 64\n#<sex>: M\n#Patient: Jane Roe\n"))
    ecg = result.ecg
    assert ecg.lead_names == STANDARD_LEADS and ecg.fs_hz == 500.0
    assert ecg.signal_mv.shape == (12, 5000)
    quarter_period = 125  # 1 Hz sine at 500 Hz peaks at sample 125
    assert ecg.lead("I")[quarter_period] == pytest.approx(0.1, abs=1e-3)
    assert ecg.lead("V6")[quarter_period] == pytest.approx(1.2, abs=1e-3)
    assert (ecg.age_years, ecg.sex) == (64, "male")
    assert result.removed_fields == ("comments", "record_name")
    assert "Jane" not in repr(result)


def test_a_header_alone_names_its_missing_data_file() -> None:
    with pytest.raises(MalformedEcg) as caught:
        read_upload(_record()[:1])
    assert caught.value.field == "rec.dat"
    assert "rec.dat is missing: a WFDB header needs its data file" == caught.value.message


def test_a_data_file_shorter_than_the_header_claims_says_how_many_leads_it_holds() -> None:
    with pytest.raises(MalformedEcg) as caught:
        read_upload(_record(data_leads=8))
    assert caught.value.field == "rec.dat"
    assert "the header says 12 leads" in caught.value.message
    assert "8 leads' worth" in caught.value.message


def test_a_declared_400_million_samples_is_too_large_before_reading_data() -> None:
    header = b"rec 12 500 400000000\n" + b"".join(
        f"rec.dat 16 1000/mV 16 0 0 0 0 {lead}\n".encode() for lead in STANDARD_LEADS
    )
    with pytest.raises(InputTooLarge) as caught:
        read_upload([UploadedFile("rec.hea", header), UploadedFile("rec.dat", b"\0" * 24)])
    assert caught.value.status_code == 413


def test_unrecognised_bytes_are_an_unsupported_format() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        read_upload([UploadedFile("rec.hea", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))])
    assert caught.value.status_code == 415


def test_read_paths_checks_sizes_before_reading_and_finds_data_files_beside_the_header(
    tmp_path: Path,
) -> None:
    for file in _record():
        (tmp_path / file.name).write_bytes(file.data)
    assert read_paths([tmp_path / "rec.hea"]).ecg.n_leads == 12
    with pytest.raises(InputTooLarge):
        read_paths([tmp_path / "rec.hea"], IngestLimits(max_upload_bytes=50_000))
    with pytest.raises(InputTooLarge):
        read_paths([tmp_path / "rec.hea"] * 5)
    with pytest.raises(MalformedEcg, match="no such file"):
        read_paths([tmp_path / "absent.hea"])
