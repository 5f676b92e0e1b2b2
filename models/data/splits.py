"""One rule for which real development records train, tune and check.

Every real-data figure QTLens reports (the concept network's agreement with measurement, the
out-of-distribution score, the measured QT against cardiologists) is computed on ``check``
records, which nothing is trained or tuned on. ``tune`` records choose hyper-parameters, early
stopping and thresholds; ``train`` records train.

The rule, per dataset of the development data (``$QTLENS_DATA_DIR``):

* **PTB-XL** — by the authors' patient-wise ``strat_fold`` (the development folder holds folds
  1–8): fold 8 ``check``, fold 7 ``tune``, folds 1–6 ``train``. Folds are patient-wise, so no
  patient is on both sides.
* **Challenge 2021, LUDB, QTDB** — by the record name: the first 8 hex digits of the SHA-256 of
  the name, as an integer modulo 10: 0–5 ``train``, 6 ``tune``, 7–9 ``check``
  (:func:`name_role`). Depends on nothing but the name, so it is the same on every machine.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Role = Literal["train", "tune", "check"]

#: The roles, in the order reports list them.
ROLES: tuple[Role, ...] = ("train", "tune", "check")

#: PTB-XL ``strat_fold`` values of the tune and check roles.
PTBXL_TUNE_FOLD = 7
PTBXL_CHECK_FOLD = 8

#: The rule in one sentence, for model cards and reports.
SPLIT_RULE = (
    "PTB-XL strat_fold 8 check, 7 tune, 1-6 train; Challenge 2021, LUDB and QTDB by "
    "SHA-256(record name)[:8] mod 10: 0-5 train, 6 tune, 7-9 check (models.data.splits)"
)


def name_role(name: str) -> Role:
    """The role of a record decided by its name alone.

    Example:
        >>> name_role("E07504"), name_role("1")
        ('train', 'check')
    """
    bucket = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % 10
    if bucket <= 5:
        return "train"
    return "tune" if bucket == 6 else "check"


def ptbxl_role(strat_fold: int) -> Role:
    """The role of a PTB-XL record from its ``strat_fold``."""
    if strat_fold == PTBXL_CHECK_FOLD:
        return "check"
    return "tune" if strat_fold == PTBXL_TUNE_FOLD else "train"


def record_role(dataset: str, record_id: str, strat_fold: int | None = None) -> Role:
    """The role of one development record of ``dataset`` (``ptbxl`` needs ``strat_fold``).

    Raises:
        ValueError: a PTB-XL record without its fold.
    """
    if dataset == "ptbxl":
        if strat_fold is None:
            raise ValueError("a PTB-XL record's role needs its strat_fold")
        return ptbxl_role(int(strat_fold))
    return name_role(record_id)
