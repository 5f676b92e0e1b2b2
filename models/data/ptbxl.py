"""PTB-XL: 21,799 clinical 10-s 12-lead ECGs with SCP-ECG statements and recommended folds.

Layout (PhysioNet ``ptb-xl/1.0.3``): ``ptbxl_database.csv`` (one row per ECG), ``scp_statements.csv``
(the statement dictionary), ``records100/`` and ``records500/`` (WFDB, 100 and 500 Hz, mV).

What this loader makes of it:

* **split** — the dataset's ``strat_fold`` (patient-wise stratified folds): 1–8 train, 9 val,
  10 test, as recommended by the authors.
* **labels** — ``lqts_risk`` = the SCP statement ``LNGQT`` (long QT interval) is listed; and the
  five diagnostic superclasses ``NORM``, ``MI``, ``STTC``, ``CD``, ``HYP`` (a record has a
  superclass when any listed diagnostic statement belongs to it, per ``scp_statements.csv``). A
  statement counts whatever its likelihood, as in the PTB-XL benchmark (Strodthoff et al. 2021).
* **age/sex** — from the CSV: age in years, where PTB-XL codes ages above 89 as 300 (→ 90, the
  cap of :data:`models.ecg.record.AGE_CAP_YEARS`); ``sex`` 0 = male, 1 = female (Wagner et al.
  2020, Table 2).

References:
    Wagner P, Strodthoff N, Bousseljot R-D, et al. PTB-XL, a large publicly available
    electrocardiography dataset. Scientific Data 7:154 (2020).
    Strodthoff N, Wagner P, Schaeffter T, Samek W. Deep learning for ECG analysis: benchmarks
    and insights from PTB-XL. IEEE J Biomed Health Inform 25:1519-1528 (2021).
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import MappingProxyType
from typing import Self

import pandas as pd

from models.data.base import (
    RecordDataset,
    Split,
    missing_files_error,
    require_columns,
    require_entries,
)
from models.ecg.record import AGE_CAP_YEARS, normalise_age

#: The SCP-ECG statement for a long QT interval.
SCP_LONG_QT = "LNGQT"
#: PTB-XL's diagnostic superclasses (``diagnostic_class`` in ``scp_statements.csv``).
SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
#: The age PTB-XL writes for patients older than 89 years.
AGE_OVER_89_CODE = 300
#: Sampling rates PTB-XL ships, each in its own folder ``records<rate>/``.
SAMPLING_RATES_HZ: tuple[int, ...] = (100, 500)

_DATABASE_COLUMNS = (
    "ecg_id",
    "age",
    "sex",
    "scp_codes",
    "strat_fold",
    "filename_lr",
    "filename_hr",
)
_STATEMENT_COLUMNS = ("diagnostic", "diagnostic_class")


def fold_split(strat_fold: int) -> Split:
    """The recommended split of a PTB-XL ``strat_fold``: 1–8 train, 9 val, 10 test."""
    if strat_fold == 10:
        return "test"
    return "val" if strat_fold == 9 else "train"


def ptbxl_age(raw: float) -> int | None:
    """Age in whole years from the CSV; PTB-XL's code 300 (older than 89) becomes 90."""
    if raw == AGE_OVER_89_CODE:
        return AGE_CAP_YEARS
    return normalise_age(raw)


class PtbXl(RecordDataset):
    """PTB-XL from its PhysioNet root folder, at 100 or 500 Hz.

    Args:
        root: the folder holding ``ptbxl_database.csv`` (e.g. ``…/ptb-xl/1.0.3``).
        sampling_rate_hz: 500 reads ``records500/``, 100 reads ``records100/``.

    Raises:
        DatasetRootError: listing what the folder lacks (tables, the records folder, or record
            files the CSV lists).

    Example:
        >>> ptbxl = PtbXl("/data/ptb-xl/1.0.3")  # doctest: +SKIP
        >>> ptbxl.load("320").labels["lqts_risk"]  # doctest: +SKIP
        1
    """

    name = "ptbxl"
    label_names = ("lqts_risk", *SUPERCLASSES)
    task_labels = MappingProxyType({"lqts_risk": "lqts_risk"})
    split_rule = "PTB-XL strat_fold (patient-wise): 1–8 train, 9 val, 10 test"

    def __init__(self, root: Path | str, sampling_rate_hz: int = 500) -> None:
        if sampling_rate_hz not in SAMPLING_RATES_HZ:
            raise ValueError(f"PTB-XL ships {SAMPLING_RATES_HZ} Hz, not {sampling_rate_hz}")
        folder = require_entries(
            self.name,
            root,
            ("ptbxl_database.csv", "scp_statements.csv", f"records{sampling_rate_hz}/"),
        )
        self.sampling_rate_hz = sampling_rate_hz
        super().__init__(folder, self._read_index(folder, sampling_rate_hz))

    @classmethod
    def for_training_rate(cls, root: Path | str, fs_hz: float) -> Self:
        """100 Hz records for training at ≤ 100 Hz, 500 Hz records otherwise."""
        return cls(root, sampling_rate_hz=100 if fs_hz <= 100 else 500)

    @classmethod
    def _read_index(cls, root: Path, sampling_rate_hz: int) -> pd.DataFrame:
        database = pd.read_csv(root / "ptbxl_database.csv")
        require_columns(cls.name, root, "ptbxl_database.csv", database, _DATABASE_COLUMNS)
        statements = pd.read_csv(root / "scp_statements.csv", index_col=0)
        require_columns(cls.name, root, "scp_statements.csv", statements, _STATEMENT_COLUMNS)
        diagnostic = statements[statements["diagnostic"] == 1]
        superclass_of = diagnostic["diagnostic_class"].dropna().to_dict()

        filenames = database["filename_lr" if sampling_rate_hz == 100 else "filename_hr"]
        missing = [
            f"{name}{suffix}"
            for name in filenames
            for suffix in (".hea", ".dat")
            if not (root / f"{name}{suffix}").is_file()
        ]
        if missing:
            raise missing_files_error(
                cls.name, root, "record files listed in ptbxl_database.csv", missing
            )

        codes = database["scp_codes"].map(lambda text: tuple(ast.literal_eval(text)))
        superclasses = codes.map(lambda listed: {superclass_of.get(code) for code in listed})
        found = pd.DataFrame(
            {name: [name in present for present in superclasses] for name in SUPERCLASSES}
        )
        index = pd.DataFrame(
            {
                "record_id": database["ecg_id"].astype(int).astype(str),
                "split": database["strat_fold"].astype(int).map(fold_split),
                "strat_fold": database["strat_fold"].astype(int),
                "age_years": pd.array(database["age"].map(ptbxl_age), dtype="Int64"),
                "sex": database["sex"].map({0: "male", 1: "female"}),
                "scp_codes": codes.map(",".join),
                "filename": filenames,
                "lqts_risk": codes.map(lambda listed: SCP_LONG_QT in listed).astype("int8"),
            }
        )
        index = pd.concat([index, found.astype("int8")], axis=1)
        return index.set_index("record_id")

    def record_paths(self, record_id: str) -> tuple[Path, ...]:
        """The ``.hea``/``.dat`` pair of PTB-XL record ``record_id`` (its ``ecg_id``)."""
        base = self.root / self.index.at[record_id, "filename"]
        return Path(f"{base}.hea"), Path(f"{base}.dat")
