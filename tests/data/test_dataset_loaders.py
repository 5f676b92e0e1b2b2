"""The public dataset loaders on the development set: every record read, counts asserted."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.concepts import get_concept
from models.data.base import RecordDataset, hash_split, read_record
from models.data.challenge2021 import Challenge2021
from models.data.ecgrdvq import Ecgrdvq, leave_one_subject_out
from models.data.ludb import Ludb
from models.data.ptbxl import PtbXl, fold_split, ptbxl_age
from models.data.qtdb import Qtdb
from models.data.registry import dataset_names, open_dataset, open_record_dataset
from models.data.wfdb_annotated import ALL_LEADS
from models.ecg.record import STANDARD_LEADS

pytestmark = pytest.mark.data


def assert_every_record_reads(dataset: RecordDataset, fs_hz: float, n_samples: int) -> None:
    """Read every record's signal; each is 12 standard leads, finite, in mV, of the given shape."""
    record_ids = dataset.record_ids()
    assert len(record_ids) == len(dataset)
    for record_id in record_ids:
        ecg = read_record(dataset.spec(record_id))
        assert ecg.lead_names == STANDARD_LEADS, record_id
        assert ecg.fs_hz == fs_hz and ecg.n_samples == n_samples, record_id
        assert np.isfinite(ecg.signal_mv).all(), record_id
        # 12-lead surface ECGs stay within a few mV; a gain error (µV read as mV) would not.
        assert 0.05 < np.abs(ecg.signal_mv).max() < 20.0, record_id


# ----------------------------------------------------------------------------------- PTB-XL


def test_ptbxl_counts_folds_and_labels(ptbxl: PtbXl) -> None:
    index = ptbxl.index
    assert len(ptbxl) == 352
    assert index["strat_fold"].value_counts().sort_index().to_dict() == {
        1: 58,
        2: 51,
        3: 34,
        4: 42,
        5: 47,
        6: 33,
        7: 43,
        8: 44,
    }
    assert set(index["split"]) == {"train"}  # the development subset holds folds 1–8 only
    assert ptbxl.record_ids(split="val") == [] and ptbxl.record_ids(split="test") == []
    assert index.index[index["lqts_risk"] == 1].tolist() == ["320"]
    assert index[["NORM", "MI", "STTC", "CD", "HYP"]].sum().to_dict() == {
        "NORM": 225,
        "MI": 49,
        "STTC": 58,
        "CD": 56,
        "HYP": 25,
    }
    assert index["sex"].value_counts().to_dict() == {"female": 191, "male": 161}
    assert int(index["age_years"].isna().sum()) == 4
    assert int(index["age_years"].max()) == 90  # ages above 89 are capped


def test_ptbxl_long_qt_record(ptbxl: PtbXl) -> None:
    record = ptbxl.load("320")
    assert record.labels == {"lqts_risk": 1, "NORM": 0, "MI": 0, "STTC": 1, "CD": 0, "HYP": 0}
    assert record.split == "train"
    assert (record.ecg.age_years, record.ecg.sex) == (79, "male")
    assert ptbxl.index.at["320", "scp_codes"] == "LNGQT,SR"


def test_ptbxl_reads_every_500_hz_record(ptbxl: PtbXl) -> None:
    assert_every_record_reads(ptbxl, fs_hz=500.0, n_samples=5000)


def test_ptbxl_100_hz_records_match_500_hz_ones(ptbxl_root: Path, ptbxl: PtbXl) -> None:
    low = PtbXl(ptbxl_root, sampling_rate_hz=100)
    assert low.record_ids() == ptbxl.record_ids()
    assert_every_record_reads(low, fs_hz=100.0, n_samples=1000)
    # Same ECG at both rates: every 5th 500 Hz sample tracks the 100 Hz record closely.
    fast, slow = ptbxl.load("320").ecg.signal_mv, low.load("320").ecg.signal_mv
    correlation = np.corrcoef(fast[1, ::5], slow[1])[0, 1]
    assert correlation > 0.95


def test_ptbxl_rate_is_chosen_for_the_training_rate(ptbxl_root: Path) -> None:
    assert PtbXl.for_training_rate(ptbxl_root, 100).sampling_rate_hz == 100
    assert PtbXl.for_training_rate(ptbxl_root, 250).sampling_rate_hz == 500
    with pytest.raises(ValueError, match="100, 500"):
        PtbXl(ptbxl_root, sampling_rate_hz=250)


def test_ptbxl_codes_age_and_folds() -> None:
    assert ptbxl_age(300) == 90 and ptbxl_age(89.0) == 89 and ptbxl_age(float("nan")) is None
    assert [fold_split(fold) for fold in range(1, 11)] == ["train"] * 8 + ["val", "test"]


# ------------------------------------------------------------------------- Challenge 2021


def test_challenge_counts_labels_and_split(challenge: Challenge2021) -> None:
    index = challenge.index
    assert len(challenge) == 19
    assert index.index[index["lqts_risk"] == 1].tolist() == ["E07504"]
    assert index["split"].value_counts().to_dict() == {"train": 13, "val": 4, "test": 2}
    assert index.index[index["split"] == "test"].tolist() == ["E07500", "E07501"]
    assert index["sex"].value_counts().to_dict() == {"male": 10, "female": 9}
    assert challenge.summary().loc["total"].to_dict() == {"records": 19, "lqts_risk": 1}


def test_challenge_reads_every_record(challenge: Challenge2021) -> None:
    assert_every_record_reads(challenge, fs_hz=500.0, n_samples=5000)
    loaded = list(challenge)  # iteration loads records with labels and split
    assert [record.record_id for record in loaded] == challenge.record_ids()
    assert [record.labels["lqts_risk"] for record in loaded].count(1) == 1
    assert [record.split for record in loaded] == challenge.index["split"].tolist()
    record = challenge.load("E07504")
    assert (record.ecg.age_years, record.ecg.sex, record.labels) == (69, "male", {"lqts_risk": 1})


def test_hash_split_is_deterministic_and_80_10_10() -> None:
    assert hash_split("E07504") == "train" and hash_split("E07500") == "test"
    counts = Counter(hash_split(str(key)) for key in range(20_000))
    assert counts["train"] / 20_000 == pytest.approx(0.8, abs=0.01)
    assert counts["val"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.01)


# --------------------------------------------------------------------------------- ECGRDVQ


def test_ecgrdvq_rows_subjects_drugs_and_labels(ecgrdvq: Ecgrdvq) -> None:
    table = ecgrdvq.index
    assert len(table) == 1392
    assert sorted(table["subject"].unique()) == [1001, 1002, 1003, 1004, 1005, 1006]
    assert table["drug"].value_counts().to_dict() == {
        "dofetilide": 288,
        "placebo": 288,
        "ranolazine": 288,
        "verapamil": 288,
        "quinidine": 240,
    }
    positives = table.groupby("drug")["tdp_high_risk_drug"].sum().to_dict()
    assert positives == {
        "dofetilide": 270,
        "quinidine": 225,
        "placebo": 0,
        "ranolazine": 0,
        "verapamil": 0,
    }
    assert int(table["pre_dose"].sum()) == 87
    assert (table["pre_dose"] == table["baseline"]).all()
    assert not table.loc[table["pre_dose"], "tdp_high_risk_drug"].any()
    assert set(table["sex"]) == {"female"}
    # One split per subject: no subject's ECGs on both sides.
    assert (table.groupby("subject")["split"].nunique() == 1).all()


def test_ecgrdvq_maps_measures_to_registry_concepts(ecgrdvq: Ecgrdvq) -> None:
    row = ecgrdvq.index.loc["12133f6e-efcf-48cc-a184-2e4d7cc05a89"]
    assert (row["rr"], row["pr"], row["qt"], row["qrs"], row["jtpeak"], row["tpeak_tend"]) == (
        875.0,
        135.0,
        369.0,
        95.0,
        205.0,
        69.0,
    )
    assert row["qtc_fridericia"] == pytest.approx(369.0 / 0.875 ** (1 / 3))
    assert row["jtpeak_c"] == pytest.approx(205.0 / 0.875**0.58)
    assert row["heart_rate"] == pytest.approx(60000.0 / 875.0)
    assert row["qtc_prolonged"] == 0.0
    assert (row["drug"], row["dose"], row["dose_unit"], row["time_h"]) == (
        "ranolazine",
        1500.0,
        "mg",
        0.5,
    )
    assert (row["concentration"], row["concentration_unit"]) == (524.0, "ng/mL")
    assert row["twave_amplitude_vm_uv"] == pytest.approx(704.884)
    # Every concept column is a registry concept; the kept table measures are not.
    concept_columns = ["rr", "pr", "qt", "qrs", "jtpeak", "tpeak_tend", "qtc_bazett"]
    assert all(get_concept(name) for name in concept_columns)
    with pytest.raises(KeyError):
        get_concept("twave_flatness_ecglib")
    # A missing QT leaves QT and every QTc missing, never guessed.
    missing_qt = ecgrdvq.index[ecgrdvq.index["qt"].isna()]
    assert len(missing_qt) == 10 and missing_qt["qtc_fridericia"].isna().all()


def test_ecgrdvq_leave_one_subject_out(ecgrdvq: Ecgrdvq) -> None:
    folds = list(leave_one_subject_out(ecgrdvq.index))
    assert [subject for subject, _, _ in folds] == [1001, 1002, 1003, 1004, 1005, 1006]
    for subject, train, test in folds:
        assert set(test["subject"]) == {subject} and subject not in set(train["subject"])
        assert len(train) + len(test) == 1392
    assert len(folds[1][2]) == 192  # subject 1002 has four periods


def test_ecgrdvq_fiducials_agree_with_the_clinical_table(ecgrdvq: Ecgrdvq) -> None:
    fiducials = ecgrdvq.median_beat_fiducials()
    assert len(fiducials) == 2772 and fiducials["record_id"].nunique() == 1386
    assert fiducials["record_id"].isin(ecgrdvq.index.index).all()
    assert int(fiducials["t_end_ms"].isna().sum()) == 73
    assert int(fiducials["error"].notna().sum()) == 1
    filtered = fiducials[fiducials["filtered"]].set_index("record_id")
    qt_from_fiducials = filtered["t_end_ms"] - filtered["qrs_onset_ms"]
    difference = (qt_from_fiducials - ecgrdvq.index["qt"].reindex(filtered.index)).dropna()
    assert abs(difference.median()) <= 5.0
    rr = ecgrdvq.index["rr"].reindex(filtered.index)
    assert np.array_equal(filtered["rr_ms"].to_numpy(), rr.to_numpy())


# ------------------------------------------------------------------------------ LUDB, QTDB


def test_ludb_records_demographics_and_per_lead_marks(ludb_root: Path) -> None:
    ludb = Ludb(ludb_root)
    assert len(ludb) == 60 and set(ludb.index["split"]) == {"dev"}
    assert ludb.summary().loc["dev", "records"] == 60
    assert int(ludb.index["age_years"].isna().sum()) == 0
    assert_every_record_reads(ludb, fs_hz=500.0, n_samples=5000)
    record = ludb.load("1")
    assert (record.ecg.age_years, record.ecg.sex, record.labels) == (51, "female", {})
    assert set(record.fiducials) == set(STANDARD_LEADS)
    first_qrs = record.fiducials["II"][0]
    assert (first_qrs.wave, first_qrs.onset_s, first_qrs.peak_s, first_qrs.offset_s) == (
        "QRS",
        1.288,
        1.324,
        1.364,
    )
    assert record.annotated_span_s == (1.266, 8.004)


def test_qtdb_records_and_expert_marks(qtdb_root: Path) -> None:
    qtdb = Qtdb(qtdb_root)
    assert len(qtdb) == 30 and set(qtdb.index["split"]) == {"dev"}
    record = qtdb.load("sel100")
    assert record.ecg.lead_names == ("II", "V5") and record.ecg.n_samples == 225_000
    assert (record.ecg.age_years, record.ecg.sex) == (69, "male")
    waves = record.fiducials[ALL_LEADS]
    assert sum(wave.wave == "QRS" for wave in waves) >= 30
    qt_s = [
        t.offset_s - q.onset_s
        for q, t in pairwise(waves)
        if q.wave == "QRS" and t.wave == "T" and q.onset_s is not None and t.offset_s
    ]
    assert len(qt_s) >= 30 and 0.30 < float(np.median(qt_s)) < 0.50  # an adult QT in s


# -------------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("name", "loader", "records"),
    [
        ("ptbxl", PtbXl, 352),
        ("challenge", Challenge2021, 19),
        ("ecgrdvq", Ecgrdvq, 1392),
        ("ludb", Ludb, 60),
        ("qtdb", Qtdb, 30),
    ],
)
def test_registry_opens_every_dataset_by_name(
    name: str, loader: type, records: int, request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(f"{name}_root")
    dataset = open_dataset(name, root)
    assert isinstance(dataset, loader) and len(dataset) == records
    summary = dataset.summary()
    assert list(summary.index)[:3] == ["train", "val", "test"] and summary.index[-1] == "total"
    assert summary.at["total", "records"] == records
    assert isinstance(dataset.index, pd.DataFrame)


def test_registry_names_and_unknown_name(ptbxl_root: Path) -> None:
    assert dataset_names() == ("ptbxl", "challenge", "ecgrdvq", "ludb", "qtdb")
    with pytest.raises(KeyError, match="known: ptbxl"):
        open_dataset("mitbih", ptbxl_root)
    assert open_dataset("ptbxl", ptbxl_root, training_fs_hz=100).sampling_rate_hz == 100


def test_open_record_dataset_refuses_a_table_of_measurements(ludb_root: Path,
                                                               ecgrdvq_root: Path) -> None:
    assert isinstance(open_record_dataset("ludb", ludb_root), Ludb)
    with pytest.raises(TypeError, match="ecgrdvq is not a dataset of whole records"):
        open_record_dataset("ecgrdvq", ecgrdvq_root)


def test_subset_keeps_order_labels_and_loader(ptbxl: PtbXl) -> None:
    subset = ptbxl.subset(["320", "1"])
    assert subset.record_ids() == ["320", "1"] and len(ptbxl) == 352
    assert subset.load("320").labels["lqts_risk"] == 1
    assert subset.summary().at["total", "lqts_risk"] == 1
    with pytest.raises(KeyError, match="no records"):
        ptbxl.subset(["999999"])
