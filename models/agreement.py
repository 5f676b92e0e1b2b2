"""How well a bundle's concepts agree with measurement on real ECGs (``qtlens evaluate --real``).

For the real development windows of one role (default ``check``, never trained or tuned on; rule
in :mod:`models.data.splits`), the network predicts every concept from the stored signal (the
bundle's own input rule: rate, length, per-lead standardisation) and is compared, per dataset,
with what the measurement pipeline measured on the same window (:mod:`models.data.real`):

* for QTc (Fridericia), QT, heart rate, Tpeak-Tend and J-Tpeak_c: records compared, bias (mean
  predicted − measured), MAE, Pearson r, and the **coverage** — the share of measured values
  inside the predicted value ± 1.96 predicted SD; bias, MAE and r each with a 95 % percentile
  bootstrap interval over the windows (Efron & Tibshirani 1993; ``scipy.stats.bootstrap``,
  paired, :data:`BOOTSTRAP_RESAMPLES` resamples, fixed seed), because a check set of a few dozen
  windows cannot tell an r of 0.80 from one of 0.85;
* predicted QT against the cardiologists' global QT where they marked it (LUDB, QTDB): records,
  bias, MAE — and, beside it, the measurement pipeline's own QT against the same marks.

A window where the pipeline declines a concept is left out of that concept's row.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.stats
import torch

from models.concepts import concept_names, get_concept
from models.data.real import REAL_DATASETS, RealSet
from models.nets.batching import InputBatch, run_batched
from models.nets.inputs import InputSpec, standardise
from models.nets.model import ConceptModel, ModelOutput

#: The concepts of the agreement table, in column order.
AGREEMENT_CONCEPTS: tuple[str, ...] = (
    "qtc_fridericia",
    "qt",
    "heart_rate",
    "tpeak_tend",
    "jtpeak_c",
)
#: File ``qtlens evaluate --real`` writes.
REAL_AGREEMENT_FILE = "real_agreement.json"
#: z of the two-sided 95 % interval.
Z_95 = 1.96
#: Bootstrap resamples of each interval, and their seed (the same report every run).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
#: Fewest windows for an interval (fewer: ``None``).
MIN_WINDOWS_FOR_INTERVAL = 5


def real_inputs(real: RealSet, spec: InputSpec) -> InputBatch:
    """The model inputs of real windows under the bundle's input rule."""
    return InputBatch(
        signal=standardise(real.signals_mv, real.lead_mask, spec),
        lead_mask=real.lead_mask.astype(bool),
        sex=real.sex.astype(np.int64),
        age_years=real.age_years.astype(np.float32),
    )


def predict_real(
    model: ConceptModel, spec: InputSpec, real: RealSet, device: torch.device
) -> tuple[ModelOutput, np.ndarray, np.ndarray]:
    """Forward output, predicted values ``[n, K]`` and SDs ``[n, K]`` (registry units)."""
    from models.bundle import concept_spread

    inputs = real_inputs(real, spec)
    output = run_batched(model, inputs, device, 128)
    sd, _ = concept_spread(model, output, torch.as_tensor(inputs.sex))
    return output, output.concept_values.numpy(), sd.numpy()


def _bias(p: np.ndarray, m: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(p - m, axis=axis)


def _mae(p: np.ndarray, m: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(np.abs(p - m), axis=axis)


def _r(p: np.ndarray, m: np.ndarray, axis: int = -1) -> np.ndarray:
    pc = p - p.mean(axis=axis, keepdims=True)
    mc = m - m.mean(axis=axis, keepdims=True)
    spread = np.sqrt((pc**2).sum(axis=axis) * (mc**2).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pc * mc).sum(axis=axis) / spread


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson r (:func:`_r`, the statistic its interval resamples); ``None`` for fewer than 3
    windows or a constant side."""
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(_r(x, y))


def _interval(samples: tuple[np.ndarray, ...], statistic: Any) -> list[float] | None:
    """95 % percentile bootstrap interval of ``statistic(*samples)`` over paired windows
    (``None`` with fewer than :data:`MIN_WINDOWS_FOR_INTERVAL` windows or an undefined
    resample)."""
    if samples[0].size < MIN_WINDOWS_FOR_INTERVAL:
        return None
    with warnings.catch_warnings():  # a resample of equal values has no r: the interval is None
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        found = scipy.stats.bootstrap(
            samples, statistic, paired=True, vectorized=True, n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=0.95, method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        ).confidence_interval
    low, high = float(found.low), float(found.high)
    return [low, high] if math.isfinite(low) and math.isfinite(high) else None


def mean_interval(values: np.ndarray) -> list[float] | None:
    """95 % bootstrap interval of the mean of ``values`` (e.g. paired differences of two
    networks' absolute errors on the same windows), as :func:`agreement_row`'s intervals."""
    return _interval((np.asarray(values, dtype=float),), np.mean)


def agreement_row(
    predicted: np.ndarray, measured: np.ndarray, sd: np.ndarray | None = None
) -> dict[str, Any]:
    """n, bias (predicted − measured), MAE, Pearson r, their 95 % bootstrap intervals
    (``bias_ci``, ``mae_ci``, ``r_ci``: ``[low, high]`` or ``None``) and (with ``sd``) ±1.96 SD
    coverage."""
    keep = np.isfinite(predicted) & np.isfinite(measured)
    p, m = predicted[keep].astype(float), measured[keep].astype(float)
    if p.size == 0:
        return {"n": 0, "bias": None, "mae": None, "r": None, "coverage_95": None}
    r = _pearson(p, m)
    row: dict[str, Any] = {
        "n": int(p.size),
        "bias": float(_bias(p, m)),
        "mae": float(_mae(p, m)),
        "r": r,
        "bias_ci": _interval((p, m), _bias),
        "mae_ci": _interval((p, m), _mae),
        "r_ci": None if r is None else _interval((p, m), _r),
    }
    if sd is not None:
        row["coverage_95"] = float((np.abs(p - m) <= Z_95 * sd[keep]).mean())
    return row


def agreement_table(values: np.ndarray, sd: np.ndarray, real: RealSet) -> dict[str, Any]:
    """Per dataset (and ``all``): per concept the :func:`agreement_row`; ``reference_qt``:
    predicted and measured QT against the cardiologists' global QT."""
    names = concept_names()
    groups = {name: real.dataset == name for name in REAL_DATASETS}
    groups["all"] = np.ones(len(real), dtype=bool)
    table: dict[str, Any] = {}
    qt = names.index("qt")
    for group, rows in groups.items():
        if not rows.any():
            continue
        entry: dict[str, Any] = {"records": int(rows.sum())}
        for concept in AGREEMENT_CONCEPTS:
            k = names.index(concept)
            entry[concept] = agreement_row(values[rows, k], real.measured[rows, k], sd[rows, k])
        marked = rows & np.isfinite(real.reference_qt_ms)
        if marked.any():
            entry["reference_qt"] = {
                "predicted": agreement_row(values[marked, qt], real.reference_qt_ms[marked]),
                "measured": agreement_row(real.measured[marked, qt], real.reference_qt_ms[marked]),
            }
        table[group] = entry
    return table


def real_agreement(
    model: ConceptModel, spec: InputSpec, real: RealSet, device: torch.device, role: str = "check"
) -> dict[str, Any]:
    """The agreement report of ``model`` on the real windows of ``role``."""
    from models.data.splits import SPLIT_RULE

    chosen = real.of_role(role)
    if len(chosen) == 0:
        raise ValueError(f"no real windows have the role {role!r}")
    _, values, sd = predict_real(model, spec, chosen, device)
    return {
        "role": role,
        "split_rule": SPLIT_RULE,
        "windows": len(chosen),
        "table": agreement_table(values, sd, chosen),
    }


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:+.{digits}f}"


def _range(interval: list[float] | None, digits: int = 1) -> str:
    """`` [low, high]`` of a bootstrap interval, or nothing."""
    return "" if interval is None else f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def _versus(row: dict[str, Any]) -> str:
    if not row["n"]:
        return "—"
    return (f"bias {_number(row['bias'])} ms, MAE {row['mae']:.1f}{_range(row.get('mae_ci'))} ms"
            f" (n {row['n']})")


def format_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table (the README's)."""
    header = ["dataset (n)"] + [
        f"{get_concept(c).label} ({get_concept(c).unit})" for c in AGREEMENT_CONCEPTS
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for group, entry in report["table"].items():
        cells = [f"{group} ({entry['records']})"]
        for concept in AGREEMENT_CONCEPTS:
            row = entry[concept]
            if not row["n"]:
                cells.append("—")
                continue
            r = "—" if row["r"] is None else f"{row['r']:.2f}{_range(row.get('r_ci'), 2)}"
            cells.append(
                f"{_number(row['bias'])} / {row['mae']:.1f}{_range(row.get('mae_ci'))}, r {r}, "
                f"{100 * row['coverage_95']:.0f} % (n {row['n']})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    marked = [
        f"{group}: QT − cardiologists' global QT, predicted {_versus(e['reference_qt']['predicted'])};"
        f" measured {_versus(e['reference_qt']['measured'])}"
        for group, e in report["table"].items()
        if "reference_qt" in e
    ]
    cells_note = ("cells: bias / MAE [95 % bootstrap interval], Pearson r [interval], share of "
                  "measured values within ±1.96 predicted SD")
    return "\n".join([*lines, "", cells_note, *marked])
