"""Every WFDB record of the public development set reads, with sane shapes, rates and units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.ecg.io import DATASET_LIMITS, read_paths
from models.ecg.record import STANDARD_LEADS

pytestmark = pytest.mark.data


def _headers(folder: Path, pattern: str) -> list[Path]:
    headers = sorted(folder.glob(pattern))
    assert headers, f"no WFDB headers under {folder}"
    return headers


def test_every_ludb_record_reads_as_12_lead_500_hz_with_demographics(data_dir: Path) -> None:
    folder = data_dir.joinpath("ludb", "data")
    for header in _headers(folder, "*.hea"):
        result = read_paths([header])
        ecg = result.ecg
        assert result.format == "wfdb"
        assert ecg.lead_names == STANDARD_LEADS
        assert ecg.signal_mv.shape == (12, 5000)
        assert ecg.fs_hz == 500.0
        assert ecg.age_years is not None and 0 < ecg.age_years <= 90
        assert ecg.sex in ("female", "male")
        assert "comments" in result.removed_fields and "record_name" in result.removed_fields


def test_ludb_record_1_lead_ii_is_in_millivolts_and_matches_the_header(data_dir: Path) -> None:
    result = read_paths([data_dir.joinpath("ludb", "data", "1.hea")])
    lead_ii = result.ecg.lead("II")
    # LUDB 1: 51-year-old woman; lead II gain 1206/mV, baseline 2 — an ECG of about 1 mV.
    assert (result.ecg.age_years, result.ecg.sex) == (51, "female")
    assert 0.3 < float(np.ptp(lead_ii)) < 5.0
    assert abs(float(np.median(lead_ii))) < 0.5


@pytest.mark.parametrize(
    ("folder", "suffix", "fs_hz", "n_samples"),
    [
        ("records100", "_lr", 100.0, 1000),
        ("records500", "_hr", 500.0, 5000),
    ],
)
def test_every_ptbxl_record_reads_at_both_rates(
    folder: str, suffix: str, fs_hz: float, n_samples: int, data_dir: Path
) -> None:
    headers = _headers(data_dir.joinpath("ptbxl", folder), f"*/*{suffix}.hea")
    assert len(headers) == 352
    for header in headers:
        ecg = read_paths([header]).ecg
        assert ecg.lead_names == STANDARD_LEADS
        assert ecg.signal_mv.shape == (12, n_samples)
        assert ecg.fs_hz == fs_hz
        assert float(np.max(np.abs(ecg.signal_mv))) < 40.0


def test_every_qtdb_record_reads_as_two_leads_of_15_minutes(data_dir: Path) -> None:
    headers = _headers(data_dir.joinpath("qtdb"), "*.hea")
    assert len(headers) == 30
    for header in headers:
        result = read_paths([header], DATASET_LIMITS)
        ecg = result.ecg
        assert ecg.n_leads == 2
        assert ecg.fs_hz == 250.0
        assert 224_000 <= ecg.n_samples <= 225_000
        assert float(np.max(np.abs(ecg.signal_mv))) < 20.0
    sel100 = read_paths([data_dir.joinpath("qtdb", "sel100.hea")], DATASET_LIMITS).ecg
    assert sel100.lead_names == ("II", "V5")  # MLII is lead II
    assert (sel100.age_years, sel100.sex) == (69, "male")


def test_qtdb_is_refused_under_the_upload_duration_limit(data_dir: Path) -> None:
    from models.ecg.errors import InputTooLarge

    with pytest.raises(InputTooLarge) as caught:
        read_paths([data_dir.joinpath("qtdb", "sel100.hea")])
    assert caught.value.status_code == 413


def test_every_challenge_2021_record_reads_from_its_mat_file(data_dir: Path) -> None:
    headers = _headers(data_dir.joinpath("challenge2021"), "*.hea")
    assert len(headers) == 19
    for header in headers:
        result = read_paths([header])
        assert result.format == "wfdb-mat"
        assert result.ecg.lead_names == STANDARD_LEADS
        assert result.ecg.signal_mv.shape == (12, 5000)
        assert float(np.max(np.abs(result.ecg.signal_mv))) < 40.0
    e07504 = read_paths([data_dir.joinpath("challenge2021", "E07504.hea")]).ecg
    assert (e07504.age_years, e07504.sex) == (69, "male")


def test_mit_bih_100_and_ptb_s0010_read(data_dir: Path) -> None:
    mit = read_paths([data_dir.joinpath("wfdb_samples", "100.hea")], DATASET_LIMITS).ecg
    assert mit.lead_names == ("II", "V5")
    assert mit.signal_mv.shape == (2, 650_000) and mit.fs_hz == 360.0
    assert (mit.age_years, mit.sex) == (69, "male")
    assert 0.5 < float(np.ptp(mit.lead("II")[:3600])) < 5.0

    ptb = read_paths([data_dir.joinpath("wfdb_samples", "s0010_re.hea")])
    assert ptb.ecg.lead_names == STANDARD_LEADS  # Frank vx/vy/vz dropped
    assert ptb.ecg.signal_mv.shape == (12, 38_400) and ptb.ecg.fs_hz == 1000.0
    assert (ptb.ecg.age_years, ptb.ecg.sex) == (81, "female")
    assert any("vx, vy, vz" in warning for warning in ptb.warnings)
