"""An incomplete dataset folder is refused with a message listing everything it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.data.base import DatasetRootError
from models.data.challenge2021 import Challenge2021
from models.data.ecgrdvq import CLINICAL_TABLE, FIDUCIAL_TABLE, Ecgrdvq
from models.data.ludb import Ludb
from models.data.ptbxl import PtbXl
from models.data.qtdb import Qtdb

PTBXL_HEADER = (
    "ecg_id,patient_id,age,sex,scp_codes,strat_fold,filename_lr,filename_hr\n"
    "1,15709.0,56.0,1,\"{'NORM': 100.0}\",3,records100/00000/00001_lr,records500/00000/00001_hr\n"
    "2,13243.0,300.0,0,\"{'LNGQT': 100.0}\",10,records100/00000/00002_lr,records500/00000/00002_hr\n"
)
SCP_STATEMENTS = (
    ",description,diagnostic,diagnostic_class\n"
    "NORM,normal ECG,1.0,NORM\n"
    "LNGQT,long QT-interval,1.0,STTC\n"
)


def test_ptbxl_empty_root_lists_every_missing_entry(tmp_path: Path) -> None:
    with pytest.raises(DatasetRootError) as error:
        PtbXl(tmp_path)
    assert str(error.value) == (
        f"ptbxl root {tmp_path} lacks ptbxl_database.csv, scp_statements.csv, records500/"
    )


def test_ptbxl_lists_the_records_folder_of_the_chosen_rate(tmp_path: Path) -> None:
    (tmp_path / "ptbxl_database.csv").write_text(PTBXL_HEADER)
    (tmp_path / "scp_statements.csv").write_text(SCP_STATEMENTS)
    (tmp_path / "records500").mkdir()
    with pytest.raises(DatasetRootError, match=r"lacks records100/$"):
        PtbXl(tmp_path, sampling_rate_hz=100)


def test_ptbxl_partial_download_lists_missing_record_files(tmp_path: Path) -> None:
    (tmp_path / "ptbxl_database.csv").write_text(PTBXL_HEADER)
    (tmp_path / "scp_statements.csv").write_text(SCP_STATEMENTS)
    records = tmp_path / "records500" / "00000"
    records.mkdir(parents=True)
    (records / "00001_hr.hea").write_text("00001_hr 12 500 5000\n")
    (records / "00001_hr.dat").write_bytes(b"\0" * 16)
    with pytest.raises(DatasetRootError) as error:
        PtbXl(tmp_path)
    assert str(error.value) == (
        f"ptbxl root {tmp_path.resolve()} lacks record files listed in ptbxl_database.csv (2 missing): "
        "records500/00000/00002_hr.hea, records500/00000/00002_hr.dat"
    )
    (records / "00002_hr.hea").write_text("00002_hr 12 500 5000\n")
    (records / "00002_hr.dat").write_bytes(b"\0" * 16)
    index = PtbXl(tmp_path).index  # complete now: the index is built from the tables
    assert index["split"].to_dict() == {"1": "train", "2": "test"}
    assert index["age_years"].tolist() == [56, 90]
    assert index["sex"].tolist() == ["female", "male"]
    assert index["lqts_risk"].tolist() == [0, 1] and index["STTC"].tolist() == [0, 1]


def test_ptbxl_table_without_needed_columns(tmp_path: Path) -> None:
    (tmp_path / "ptbxl_database.csv").write_text("ecg_id,age\n1,50\n")
    (tmp_path / "scp_statements.csv").write_text(SCP_STATEMENTS)
    (tmp_path / "records500").mkdir()
    with pytest.raises(DatasetRootError, match="ptbxl_database.csv lacks columns sex, scp_codes"):
        PtbXl(tmp_path)


def test_root_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetRootError, match="is not a folder"):
        PtbXl(tmp_path / "nowhere")
    with pytest.raises(DatasetRootError, match="is not a folder"):
        Challenge2021(tmp_path / "nowhere")


def test_challenge_root_without_records(tmp_path: Path) -> None:
    with pytest.raises(DatasetRootError, match=r"lacks WFDB headers \(\*\.hea\)"):
        Challenge2021(tmp_path)


def test_challenge_headers_without_signal_or_labels(tmp_path: Path) -> None:
    source = tmp_path / "training" / "georgia" / "g1"
    source.mkdir(parents=True)
    (source / "E00001.hea").write_text("E00001 12 500 5000\n# Age: 50\n# Dx: 111975006\n")
    with pytest.raises(DatasetRootError) as error:
        Challenge2021(tmp_path)
    assert str(error.value) == (
        f"challenge root {tmp_path.resolve()} lacks signal files (1 missing): training/georgia/g1/E00001.mat"
    )
    (source / "E00001.mat").write_bytes(b"")
    (source / "E00002.hea").write_text("E00002 12 500 5000\n# Age: 50\n")
    (source / "E00002.mat").write_bytes(b"")
    with pytest.raises(
        DatasetRootError, match=r"lacks '# Dx:' lines in headers \(1 missing\): .*E00002.hea"
    ):
        Challenge2021(tmp_path)


def test_challenge_duplicate_record_names(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "A0001.hea").write_text("A0001 12 500 5000\n# Dx: 426783006\n")
        (tmp_path / folder / "A0001.mat").write_bytes(b"")
    with pytest.raises(DatasetRootError, match="several records named A0001"):
        Challenge2021(tmp_path)


def test_ecgrdvq_missing_tables_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DatasetRootError) as error:
        Ecgrdvq(tmp_path)
    assert str(error.value) == f"ecgrdvq root {tmp_path} lacks {CLINICAL_TABLE}"
    (tmp_path / CLINICAL_TABLE).write_text('"EGREFID","RANDID","SEX"\n"x",1001,"F"\n')
    with pytest.raises(DatasetRootError, match=f"{CLINICAL_TABLE} lacks columns AGE, VISIT"):
        Ecgrdvq(tmp_path)


def test_ecgrdvq_fiducials_need_their_table(ecgrdvq_root: Path, tmp_path: Path) -> None:
    (tmp_path / CLINICAL_TABLE).write_text((ecgrdvq_root / CLINICAL_TABLE).read_text())
    table = Ecgrdvq(tmp_path)  # the PhysioNet download has no validation.csv: still a table
    assert len(table) == 1392
    with pytest.raises(DatasetRootError, match=f"lacks {FIDUCIAL_TABLE}$"):
        table.median_beat_fiducials()
    (tmp_path / FIDUCIAL_TABLE).write_text("RECORD,FILTER\nx/1001/abc,1\n")
    with pytest.raises(DatasetRootError, match=f"{FIDUCIAL_TABLE} lacks columns ERROR, RR, QON"):
        table.median_beat_fiducials()


def test_ecgrdvq_unknown_treatment(ecgrdvq_root: Path, tmp_path: Path) -> None:
    clinical = (ecgrdvq_root / CLINICAL_TABLE).read_text()
    (tmp_path / CLINICAL_TABLE).write_text(clinical.replace('"Ranolazine",1500', '"Sotalol",80'))
    with pytest.raises(DatasetRootError, match="unknown treatments Sotalol"):
        Ecgrdvq(tmp_path)


def test_ludb_and_qtdb_roots_list_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetRootError, match=r"ludb root .* lacks RECORDS$"):
        Ludb(tmp_path)
    (tmp_path / "RECORDS").write_text("sel100\nsel102\n")
    (tmp_path / "sel100.hea").write_text("sel100 2 250 225000\n")
    with pytest.raises(DatasetRootError) as error:
        Qtdb(tmp_path)
    assert str(error.value) == (
        f"qtdb root {tmp_path.resolve()} lacks files of the records in RECORDS (5 missing): "
        "sel100.dat, sel100.q1c, sel102.hea, sel102.dat, sel102.q1c"
    )
