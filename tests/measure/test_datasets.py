"""The LUDB and QTDB readers: layout checks, signals through models.ecg.io, marks as waves."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.data.ludb import Ludb
from models.data.qtdb import Qtdb
from models.data.wfdb_annotated import ALL_LEADS, DatasetLayoutError, waves_from_annotation
from models.ecg.record import STANDARD_LEADS


def test_bracketed_marks_become_waves_with_optional_bounds() -> None:
    samples = [10, 20, 30, 50, 60, 70, 90]
    symbols = ["(", "N", ")", "t", ")", "u", "p"]
    waves = waves_from_annotation(samples, symbols, fs_hz=10.0)
    assert [(w.wave, w.onset_s, w.peak_s, w.offset_s) for w in waves] == [
        ("QRS", 1.0, 2.0, 3.0),
        ("T", None, 5.0, 6.0),
        ("P", None, 9.0, None),
    ]


def test_a_folder_missing_files_is_refused_with_the_list(tmp_path: Path) -> None:
    (tmp_path / "RECORDS").write_text("data/1\ndata/2\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.hea").write_text("1 12 500 5000\n")
    with pytest.raises(DatasetLayoutError) as error:
        Ludb(tmp_path)
    message = str(error.value)
    assert "data/1.dat" in message and "data/2.hea" in message and "data/1.v6" in message
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        Qtdb(tmp_path / "nowhere")


@pytest.mark.data
def test_ludb_reads_60_dev_records_with_marks_in_every_lead(data_dir: Path) -> None:
    ludb = Ludb(data_dir / "ludb")
    assert len(ludb.record_ids()) == 60 and ludb.split_of("1") == "dev"
    record = ludb.load("1")
    assert record.ecg.lead_names == STANDARD_LEADS and record.ecg.fs_hz == 500.0
    assert record.ecg.sex == "female" and record.ecg.age_years == 51
    assert set(record.waves) == set(STANDARD_LEADS)
    qrs = [w for w in record.waves["II"] if w.wave == "QRS"]
    assert 5 <= len(qrs) <= 12
    for wave in record.waves["II"]:
        assert wave.onset_s is not None and wave.offset_s is not None
        assert wave.onset_s < wave.peak_s < wave.offset_s
    start, stop = record.annotated_span_s
    assert 0.5 < start < stop < 9.5


@pytest.mark.data
def test_qtdb_reads_30_dev_records_with_cardiologist_1_marks(data_dir: Path) -> None:
    qtdb = Qtdb(data_dir / "qtdb")
    assert len(qtdb.record_ids()) == 30
    record = qtdb.load("sel100")
    assert record.ecg.n_leads == 2 and record.ecg.fs_hz == 250.0
    waves = record.waves[ALL_LEADS]
    assert sum(w.wave == "QRS" for w in waves) == 30
    t_waves = [w for w in waves if w.wave == "T"]
    assert len(t_waves) == 30 and all(w.offset_s is not None for w in t_waves)
