"""K-fold cross-validation of a fine-tuning recipe over the real train windows
(``qtlens train-real --cv K``).

Choosing a fine-tuning setting on the 75 real *tune* windows cannot see effects of 1–2 ms (a
longer fine-tune won there on all six columns and lost on the check windows, README); reading
the *check* windows to choose spends them. Cross-validation uses the few hundred *train*
windows instead (Stone 1974; Hastie, Tibshirani & Friedman 2009, §7.10): the train records are
split into ``K`` folds by record (:func:`fold_of`: SHA-256 of ``dataset/record``, every QTDB
window of one record in the same fold), each fold is predicted by the recipe fine-tuned from the
same base on the other ``K − 1`` folds (epoch choice and SD scaling on *tune*, as the shipping
command), and the out-of-fold predictions of every train window give one agreement table
(:mod:`models.agreement`, the check table's columns and intervals). Two recipes' out-of-fold
errors on the same windows compare paired (:func:`compare_runs`). Neither *tune* nor *check*
windows are predicted; *check* is never read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.agreement import (
    AGREEMENT_CONCEPTS,
    agreement_table,
    mean_interval,
    predict_real,
)
from models.concepts import concept_names
from models.data.real import RealSet
from models.nets.batching import resolve_device
from models.train_real import RealTrainConfig, _fine_tune_data, fine_tune, load_base

#: The file ``qtlens train-real --cv`` writes.
CV_FILE = "cv.json"
#: How windows are given folds, for reports.
FOLD_RULE = (
    "train windows split by record: SHA-256('dataset/record')[:8] mod K "
    "(QTDB windows of one record share a fold) (models.train_real_cv)"
)
#: The reference the QT is also compared with (the cardiologists' global QT where marked).
REFERENCE_QT = "reference_qt"


def _record_name(record_id: str) -> str:
    """The record a window comes from (QTDB windows are ``name@start_s``)."""
    return record_id.split("@", 1)[0]


def fold_of(real: RealSet, folds: int) -> np.ndarray:
    """``[n]`` fold index of each window, by record (see :data:`FOLD_RULE`)."""
    if folds < 2:
        raise ValueError("a cross-validation needs at least 2 folds")
    keys = [f"{dataset}/{_record_name(str(record))}"
            for dataset, record in zip(real.dataset, real.record_id, strict=True)]
    return np.array(
        [int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % folds for key in keys],
        dtype=np.int64,
    )


def _errors(out_of_fold: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per column of the table, ``[n]`` absolute errors of the out-of-fold predictions against
    the measurement (NaN where it declined), and the QT against the cardiologists' global QT
    (NaN where unmarked)."""
    def column(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    predicted, measured = out_of_fold["predicted"], out_of_fold["measured"]
    errors = {c: np.abs(column(predicted[c]) - column(measured[c])) for c in AGREEMENT_CONCEPTS}
    errors[REFERENCE_QT] = np.abs(column(predicted["qt"]) - column(out_of_fold[REFERENCE_QT]))
    return errors


def cross_validate(
    base: Path,
    config: RealTrainConfig,
    folds: int = 5,
    *,
    data_dir: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Out-of-fold agreement of the fine-tuning recipe ``config`` from ``base`` (module text).

    Returns:
        The report: recipe, fold rule and sizes, the agreement table of the out-of-fold
        predictions and, per train window, its record, dataset, fold and out-of-fold
        predictions of the table's concepts (what :func:`compare_runs` pairs).

    Raises:
        BundleError: ``base`` is not a readable concept bundle.
        ValueError: fewer than 2 folds, or a fold without train windows.
    """
    started = time.perf_counter()
    torch_device = resolve_device(device)
    base_model, base_card, spec = load_base(base)
    data = _fine_tune_data(base_card, spec, config, data_dir)
    train_set = data.real.of_role("train")
    fold = fold_of(train_set, folds)
    if np.unique(fold).size < folds:
        raise ValueError(f"{folds} folds leave one without train windows; use fewer")
    predicted = np.full((len(train_set), len(concept_names())), np.nan, dtype=np.float32)
    spread = np.full_like(predicted, np.nan)
    for k in range(folds):
        log(f"fold {k + 1}/{folds}: fine-tuning on {int((fold != k).sum())} windows, "
            f"predicting {int((fold == k).sum())}")
        model = copy.deepcopy(base_model)
        fine_tune(model, spec, train_set.select(fold != k), data, config, torch_device,
                  progress=progress, log=log)
        _, values, sd = predict_real(model, spec, train_set.select(fold == k), torch_device)
        predicted[fold == k], spread[fold == k] = values, sd
    names = concept_names()
    return {
        "role": "train (out of fold)",
        "base": str(base),
        "recipe": asdict(config),
        "folds": folds,
        "fold_rule": FOLD_RULE,
        "windows": len(train_set),
        "seconds": round(time.perf_counter() - started, 1),
        "table": agreement_table(predicted, spread, train_set),
        "out_of_fold": {
            "record_id": [str(r) for r in train_set.record_id],
            "dataset": [str(d) for d in train_set.dataset],
            "fold": fold.tolist(),
            "predicted": {c: _json_floats(predicted[:, names.index(c)])
                          for c in AGREEMENT_CONCEPTS},
            "measured": {c: _json_floats(train_set.measured[:, names.index(c)])
                         for c in AGREEMENT_CONCEPTS},
            REFERENCE_QT: _json_floats(train_set.reference_qt_ms),
        },
    }


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 3) for v in values]


def write_report(report: dict[str, Any], out: Path) -> Path:
    """Write ``report`` to ``out/cv.json``; returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / CV_FILE
    path.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return path


def is_report(value: Any) -> bool:
    """Whether ``value`` (read from a JSON file) has what :func:`compare_runs` pairs."""
    out_of_fold = value.get("out_of_fold") if isinstance(value, dict) else None
    return isinstance(out_of_fold, dict) and all(
        key in out_of_fold for key in ("record_id", "fold", "predicted", "measured", REFERENCE_QT))


def compare_runs(reference: dict[str, Any], candidate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Paired comparison of two cross-validation reports of the same windows and folds.

    Per column of the table (and the QT against the cardiologists' global QT), over the windows
    both predicted and measured: ``n``, the mean of (candidate − reference) absolute error and
    its 95 % bootstrap interval (:func:`models.agreement.mean_interval`); negative = the
    candidate is closer.

    Raises:
        ValueError: the reports cover different windows, folds or measurements.
    """
    ours, theirs = reference["out_of_fold"], candidate["out_of_fold"]
    for key in ("record_id", "fold", "measured", REFERENCE_QT):
        if ours[key] != theirs[key]:
            raise ValueError(f"the two cross-validations differ in their windows' {key}: "
                             "run both on the same real set with the same --cv")
    before, after = _errors(ours), _errors(theirs)
    result = {}
    for column, errors in before.items():
        both = np.isfinite(errors) & np.isfinite(after[column])
        difference = after[column][both] - errors[both]
        result[column] = {
            "n": int(both.sum()),
            "mean_difference": float(difference.mean()) if difference.size else None,
            "interval": mean_interval(difference),
        }
    return result


def format_comparison(comparison: dict[str, dict[str, Any]]) -> str:
    """One line per column: mean difference of absolute error [95 % interval] (n)."""
    lines = ["candidate − reference, mean absolute error difference [95 % interval]:"]
    for column, row in comparison.items():
        if not row["n"]:
            lines.append(f"  {column}: —")
            continue
        interval = row["interval"]
        shown = "" if interval is None else f" [{interval[0]:+.2f}, {interval[1]:+.2f}]"
        lines.append(f"  {column}: {row['mean_difference']:+.2f}{shown} (n {row['n']})")
    return "\n".join(lines)
