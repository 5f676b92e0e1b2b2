"""ECGRDVQ: the FDA study of ECG effects of ranolazine, dofetilide, verapamil and quinidine.

A randomised, placebo-controlled crossover study in 22 healthy subjects (NCT01873950): each subject
received single doses of dofetilide and quinidine (hERG blockers, high TdP risk), ranolazine and
verapamil (hERG block balanced by late-sodium or calcium block, low TdP risk) and placebo, with
ECGs at 16 time points around each dose. PhysioNet publishes the median-beat measurements as a
table; this loader returns that table (no signals).

Layout: ``SCR-002.Clinical.Data.csv`` (one row per analysed ECG, from PhysioNet ``ecgrdvq/1.0.0``)
and, optionally, ``validation.csv`` (fiducial points on the median beats, from the examples of the
FDA's ECGlib; only :meth:`Ecgrdvq.median_beat_fiducials` needs it).

What this loader makes of it (:attr:`Ecgrdvq.index`, one row per ECG keyed by ``EGREFID``):

* **study design** — ``subject`` (RANDID), ``sex``, ``age_years``, ``drug`` (``placebo``,
  ``dofetilide``, ``quinidine``, ``ranolazine``, ``verapamil``), ``dose`` + ``dose_unit``,
  ``period`` (1–5), ``time_h`` (nominal time after dose, h), ``baseline`` (the study's baseline
  flag), ``pre_dose`` (``time_h`` < 0), plasma ``concentration`` + ``concentration_unit`` of
  ``concentration_analyte``.
* **registry concepts** (ms, median beat) — ``RR`` → ``rr``, ``PR`` → ``pr``, ``QT`` → ``qt``,
  ``QRS`` → ``qrs``, ``JTPEAK`` → ``jtpeak``, ``TPEAKTEND`` → ``tpeak_tend``; the derived ones
  (``heart_rate``, the four QTc, ``jtpeak_c``, ``qtc_prolonged``) through
  :func:`models.concepts.rederive`.
* **measures kept under their own names** because no registry concept has their definition (see
  :data:`EXTRA_MEASURES`).
* **label** ``tdp_high_risk_drug`` (the target of the ``tdp_risk`` task) — 1 for dofetilide or
  quinidine after the dose; 0 for placebo, ranolazine and verapamil, and for every pre-dose ECG
  (no drug on board yet; such rows also have ``pre_dose`` set so they can be left out).
* **split** — by subject, never by ECG: :func:`models.data.base.hash_split` of the subject
  number, and :func:`leave_one_subject_out` for the cross-validation the small cohort calls for.

References:
    Johannesen L, Vicente J, Mason JW, et al. Differentiating drug-induced multichannel block on
    the electrocardiogram: randomized study of dofetilide, quinidine, ranolazine, and verapamil.
    Clin Pharmacol Ther 96:549-558 (2014).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from models.concepts import derivation_order, rederive
from models.data.base import (
    Dataset,
    DatasetRootError,
    hash_split,
    require_columns,
    require_entries,
)
from models.ecg.record import normalise_age, normalise_sex

CLINICAL_TABLE = "SCR-002.Clinical.Data.csv"
FIDUCIAL_TABLE = "validation.csv"

#: The study's treatment names (EXTRT) → QTLens drug names.
DRUG_NAMES = MappingProxyType(
    {
        "Placebo": "placebo",
        "Dofetilide": "dofetilide",
        "Quinidine Sulph": "quinidine",
        "Ranolazine": "ranolazine",
        "Verapamil HCL": "verapamil",
    }
)
#: Predominant hERG blockers: high risk of Torsade de Pointes (Johannesen et al. 2014).
HIGH_TDP_RISK_DRUGS = frozenset({"dofetilide", "quinidine"})

#: Table columns that are registry concepts with the same definition and unit (ms).
CONCEPT_COLUMNS = MappingProxyType(
    {
        "RR": "rr",
        "PR": "pr",
        "QT": "qt",
        "QRS": "qrs",
        "JTPEAK": "jtpeak",
        "TPEAKTEND": "tpeak_tend",
    }
)

#: Table columns with no registry concept of the same definition → their name in the index.
#:
#: * ``TPEAKTPEAKP`` — first to second T peak in ms (a notch interval; the registry's
#:   ``t_notched`` is a yes/no finding).
#: * ``ERD_30``, ``LRD_30`` — early and late repolarisation durations (ms) at 30 % of the T-wave
#:   amplitude, ECGlib's definitions; no registry concept.
#: * ``Twave_amplitude`` — µV on the vector-magnitude lead; the registry's ``t_amplitude_ii`` and
#:   ``t_amplitude_v5`` are mV on leads II and V5.
#: * ``Twave_asymmetry``, ``Twave_flatness`` — ECGlib's algorithm, not the definitions of
#:   :mod:`models.ecg.morphology` behind ``t_asymmetry``/``t_flatness`` (the scales differ: the
#:   table's flatness is about 0.36 where QTLens' is 0.6 for a Gaussian T).
EXTRA_MEASURES = MappingProxyType(
    {
        "TPEAKTPEAKP": "tpeak_tpeakp_ms",
        "ERD_30": "erd30_ms",
        "LRD_30": "lrd30_ms",
        "Twave_amplitude": "twave_amplitude_vm_uv",
        "Twave_asymmetry": "twave_asymmetry_ecglib",
        "Twave_flatness": "twave_flatness_ecglib",
    }
)

#: Registry concepts the table lacks whose *relative* change (:mod:`models.change`) a table
#: column stands in for → (column, factor to the concept's unit). The T amplitude of the
#: vector-magnitude median beat (µV) stands in for the T amplitude of leads II and V5 (mV): a
#: relative change carries no unit, and a drug that shrinks the T loop shrinks its projection on
#: every lead alike to first order — not exactly, so a head reading it inherits that error.
RELATIVE_CHANGE_STANDINS = MappingProxyType(
    {
        "t_amplitude_ii": ("twave_amplitude_vm_uv", 1e-3),
        "t_amplitude_v5": ("twave_amplitude_vm_uv", 1e-3),
    }
)

#: Fiducial columns of ``validation.csv`` (sample indices, 1 sample = 1 ms) → their index name.
FIDUCIAL_COLUMNS = MappingProxyType(
    {
        "QON": "qrs_onset_ms",
        "RPEAK": "r_peak_ms",
        "QOFF": "qrs_offset_ms",
        "TPEAK": "t_peak_ms",
        "TPPEAK": "t_peak2_ms",
        "TEND": "t_end_ms",
    }
)

_CLINICAL_COLUMNS = (
    "EGREFID",
    "RANDID",
    "SEX",
    "AGE",
    "VISIT",
    "EXTRT",
    "EXDOSE",
    "EXDOSU",
    "TPT",
    "BASELINE",
    "PCTEST",
    "PCSTRESN",
    "PCSTRESU",
    *CONCEPT_COLUMNS,
    *EXTRA_MEASURES,
)
_FIDUCIAL_SOURCE_COLUMNS = ("RECORD", "ERROR", "FILTER", "RR", *FIDUCIAL_COLUMNS)


def derived_concepts(measured: pd.DataFrame, sex: pd.Series) -> pd.DataFrame:
    """Every derived registry concept of each row, from its measured concepts and sex.

    Args:
        measured: one column per measured concept (registry units), NaN = unavailable.
        sex: ``"female"``/``"male"``/``None`` per row.

    Returns:
        One column per derived concept (NaN where an input is unavailable), same index.
    """
    rows = []
    for values, row_sex in zip(measured.to_dict("records"), sex):
        known = {name: None if pd.isna(value) else float(value) for name, value in values.items()}
        rows.append(rederive(known, row_sex))
    names = [concept.name for concept in derivation_order()]
    return pd.DataFrame(rows, index=measured.index)[names].astype(float)


class Ecgrdvq(Dataset):
    """The ECGRDVQ clinical table from its PhysioNet root folder.

    Args:
        root: the folder holding ``SCR-002.Clinical.Data.csv`` (and ``validation.csv`` for the
            median-beat fiducials).

    Raises:
        DatasetRootError: listing missing tables, missing columns or unknown drug names.

    Example:
        >>> table = Ecgrdvq("/data/ecgrdvq/1.0.0").index  # doctest: +SKIP
        >>> table.groupby("drug")["qtc_fridericia"].mean()  # doctest: +SKIP
    """

    name = "ecgrdvq"
    label_names = ("tdp_high_risk_drug",)
    task_labels = MappingProxyType({"tdp_risk": "tdp_high_risk_drug"})
    split_rule = "by subject: SHA-256 of the subject number, first 8 hex digits mod 10: 0–7 train, 8 val, 9 test"

    def __init__(self, root: Path | str) -> None:
        folder = require_entries(self.name, root, (CLINICAL_TABLE,))
        super().__init__(folder, self._read_clinical(folder))

    @classmethod
    def _read_clinical(cls, root: Path) -> pd.DataFrame:
        clinical = pd.read_csv(root / CLINICAL_TABLE)
        require_columns(cls.name, root, CLINICAL_TABLE, clinical, _CLINICAL_COLUMNS)
        unknown = sorted(set(clinical["EXTRT"]) - set(DRUG_NAMES))
        if unknown:
            raise DatasetRootError(
                f"{cls.name} root {root}: {CLINICAL_TABLE} lists unknown treatments "
                f"{', '.join(map(str, unknown))} (known: {', '.join(DRUG_NAMES)})"
            )
        drug = clinical["EXTRT"].map(DRUG_NAMES)
        time_h = clinical["TPT"].astype(float)
        sex = clinical["SEX"].map(normalise_sex)
        table = pd.DataFrame(
            {
                "record_id": clinical["EGREFID"].astype(str),
                "subject": clinical["RANDID"].astype(int),
                "split": clinical["RANDID"].astype(str).map(hash_split),
                "sex": sex,
                "age_years": pd.array(clinical["AGE"].map(normalise_age), dtype="Int64"),
                "drug": drug,
                "dose": clinical["EXDOSE"].astype(float),
                "dose_unit": clinical["EXDOSU"],
                "period": clinical["VISIT"]
                .str.extract(r"PERIOD-(\d+)", expand=False)
                .astype("Int64"),
                "time_h": time_h,
                "baseline": clinical["BASELINE"].eq("Y"),
                "pre_dose": time_h < 0,
                "concentration": clinical["PCSTRESN"].astype(float),
                "concentration_unit": clinical["PCSTRESU"],
                "concentration_analyte": clinical["PCTEST"],
                "tdp_high_risk_drug": (drug.isin(HIGH_TDP_RISK_DRUGS) & (time_h > 0)).astype(
                    "int8"
                ),
            }
        ).set_index("record_id")
        measured = clinical[list(CONCEPT_COLUMNS)].rename(columns=CONCEPT_COLUMNS).astype(float)
        measured.index = table.index
        extras = clinical[list(EXTRA_MEASURES)].rename(columns=EXTRA_MEASURES).astype(float)
        extras.index = table.index
        derived = derived_concepts(measured, table["sex"])
        return pd.concat([table, measured, derived, extras], axis=1)

    def median_beat_fiducials(self) -> pd.DataFrame:
        """The fiducial points of ``validation.csv``, one row per ECG and filter setting.

        Columns: ``record_id`` (EGREFID), ``subject``, ``filtered`` (the table's FILTER 0/1),
        ``rr_ms``, the fiducials of :data:`FIDUCIAL_COLUMNS` in ms from the start of the median
        beat (1 sample = 1 ms; the table's −1 = absent → NaN), and ``error`` (the delineator's
        message where it failed, else missing). With ``filtered`` true, ``t_end_ms −
        qrs_onset_ms`` is within a few ms of the clinical table's QT.

        Raises:
            DatasetRootError: when ``validation.csv`` is absent, lacks a column or names no
                subject/ECG.
        """
        require_entries(self.name, self.root, (FIDUCIAL_TABLE,))
        source = pd.read_csv(self.root / FIDUCIAL_TABLE)
        require_columns(self.name, self.root, FIDUCIAL_TABLE, source, _FIDUCIAL_SOURCE_COLUMNS)
        parts = source["RECORD"].str.rsplit("/", n=2, expand=True)
        if parts.shape[1] != 3 or parts.isna().any().any():
            raise DatasetRootError(
                f"{self.name} root {self.root}: {FIDUCIAL_TABLE} RECORD values must end in "
                "SUBJECT/EGREFID"
            )
        fiducials = pd.DataFrame(
            {
                "record_id": parts[2],
                "subject": parts[1].astype(int),
                "filtered": source["FILTER"].astype(bool),
                "rr_ms": source["RR"].astype(float),
            }
        )
        for column, name in FIDUCIAL_COLUMNS.items():
            fiducials[name] = source[column].astype(float).replace(-1.0, np.nan)
        fiducials["error"] = source["ERROR"]
        return fiducials


def leave_one_subject_out(
    table: pd.DataFrame,
) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """Leave-one-subject-out folds of an ECGRDVQ table: ``(subject, train_rows, test_rows)``.

    Every ECG of the held-out subject is in the test rows and none in the training rows, so no
    subject's repeated ECGs leak across the split. Subjects come in ascending order.
    """
    for subject in sorted(table["subject"].unique()):
        held_out = table["subject"] == subject
        yield int(subject), table[~held_out], table[held_out]
