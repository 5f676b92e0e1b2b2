"""A frozen ``tdp_risk`` head applied to an ECGRDVQ concept table (``qtlens evaluate-head``).

Nothing is fitted: the head file's coefficients score the post-dose ECGs of the table as they
are, so the table may hold subjects the head never saw (the unseen-subject re-run of its
development numbers). An absolute head reads each ECG's concepts; a change head reads the
change concepts against the mean of the subject's pre-dose ECGs of the same period (what
:func:`models.heads.fit.change_from_baseline` computes for training).

The result, JSON-ready::

    {"comparisons": {"high_vs_low": {"head": A, "qtcf": A, "delta_qtcf": A},
                     "high_vs_placebo": {…}, "low_vs_placebo": {…}},
     "subjects": N, "rows": N}

where each ``A`` is ``{"value": AUROC, "ci95": [low, high]}`` — the AUROC of that score pooled
over the rows of the comparison's two groups (first group positive; ``qtcf`` is QTcF itself and
``delta_qtcf`` its change from baseline, both in ms as the score), and a percentile 95 % CI from
resampling subjects with replacement (:class:`~models.heads.fit.SubjectBootstrap`). ``value``
and the bounds are ``null`` when a group has no rows. ``rows`` counts the post-dose ECGs with
every concept input of the head and both QTcF scores (all three scores rank the same ECGs);
``subjects`` their subjects.

Given the risk bands of a bundle (:func:`band_shares`, ``qtlens evaluate-head --bundle``), the
result also says, per drug, which share of those ECGs each band holds: the sensitivity that
cut-offs set on ordinary ECGs (``qtlens calibrate-bands``) leave on the study's ECGs::

    "bands": {"intermediate_from": p, "high_from": p, "set_by": "…",
              "by_drug": {"dofetilide": {"n": N, "intermediate": share, "high": share}, …}}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from models.heads.fit import (
    COMPARISONS,
    VARIANT_RULES,
    SubjectBootstrap,
    pooled_auroc,
    study_rows,
    variant_inputs,
)
from models.heads.logistic import DEMOGRAPHIC_UNITS, LogisticTaskHead
from models.tasks import Bands, RiskBand

#: The scores compared, in the order written: the head, QTcF, ΔQTcF.
FROZEN_SCORES = ("head", "qtcf", "delta_qtcf")


def head_logits(head: LogisticTaskHead, inputs: pd.DataFrame) -> np.ndarray:
    """``[n]`` logits of a head on a frame holding its features (registry units); an unknown
    ``female`` or ``age_years`` pushes the logit by 0, as in the app."""
    logit = np.full(len(inputs), head.intercept)
    for feature in head.features:
        push = feature.coefficient_per_sd * (inputs[feature.name].to_numpy() - feature.mean)
        push = push / feature.sd
        logit += np.nan_to_num(push) if feature.name in DEMOGRAPHIC_UNITS else push
    return logit


def _finite_or_none(entry: dict[str, Any]) -> dict[str, Any]:
    """The estimate with NaN written as ``null`` (JSON has no NaN)."""
    clean = lambda x: None if x is None or not math.isfinite(x) else float(x)
    return {"value": clean(entry["value"]), "ci95": [clean(x) for x in entry["ci95"]]}


def band_shares(bands: Bands, drugs: np.ndarray, logits: np.ndarray) -> dict[str, Any]:
    """Per drug, the share of ECGs whose probability ``sigmoid(logits)`` falls in the
    intermediate and in the high band of ``bands`` (with the cut-offs and how they were set)."""
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    banded = [bands.band(float(p)) for p in probabilities]
    by_drug = {}
    for drug in sorted(set(drugs)):
        mine = [band for band, of in zip(banded, drugs, strict=True) if of == drug]
        by_drug[str(drug)] = {"n": len(mine),
                              "intermediate": mine.count(RiskBand.INTERMEDIATE) / len(mine),
                              "high": mine.count(RiskBand.HIGH) / len(mine)}
    return {**bands.to_dict(), "by_drug": by_drug}


def evaluate_frozen_head(
    head: LogisticTaskHead, table: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
    bands: Bands | None = None,
) -> dict[str, Any]:
    """AUROCs of a frozen head, QTcF and ΔQTcF on the post-dose ECGs of an ECGRDVQ table.

    Args:
        head: an absolute or change ``tdp_risk`` head.
        table: :attr:`models.data.ecgrdvq.Ecgrdvq.index` (any subjects).
        n_boot: subject-bootstrap resamples per CI.
        seed: seed of the bootstrap.
        bands: a bundle's bands for ``tdp_risk``; when given, the result carries
            :func:`band_shares` of the head's probabilities under ``"bands"``.

    Returns:
        The dict described in the module docstring.

    Raises:
        ValueError: a head for another task, a feature the table cannot give, or no post-dose
            ECG with every input.
    """
    if head.task != "tdp_risk":
        raise ValueError(f"the head predicts {head.task}; ECGRDVQ labels tdp_risk")
    rows = study_rows(table)
    variant = "change_from_baseline" if head.reads_change else "absolute"
    names = [f.name for f in head.features]
    inputs = pd.concat(
        [
            variant_inputs(table, rows.index, variant, names),
            variant_inputs(table, rows.index, "absolute", []),
            variant_inputs(table, rows.index, "change_from_baseline", []),
        ],
        axis=1,
    )
    inputs = inputs.loc[:, ~inputs.columns.duplicated()]
    required = [n for n in inputs.columns if n not in DEMOGRAPHIC_UNITS]
    complete = inputs[required].notna().all(axis=1).to_numpy()
    if not complete.any():
        raise ValueError("no post-dose ECG of the table has every input of the head")
    rows, inputs = rows[complete], inputs[complete]
    subjects = np.unique(rows["subject"])
    boot = SubjectBootstrap(subjects, rows["subject"].to_numpy(), n_boot, seed)
    group = rows["group"].to_numpy()
    scores = {
        "head": head_logits(head, inputs),
        "qtcf": inputs[VARIANT_RULES["absolute"]].to_numpy(),
        "delta_qtcf": inputs[VARIANT_RULES["change_from_baseline"]].to_numpy(),
    }
    with np.errstate(invalid="ignore"):
        comparisons = {
            comparison: {
                name: _finite_or_none(
                    boot.estimate(pooled_auroc(boot, group, scores[name], comparison))
                )
                for name in FROZEN_SCORES
            }
            for comparison in COMPARISONS
        }
    result = {"comparisons": comparisons, "subjects": int(subjects.size), "rows": len(rows)}
    if bands is not None:
        result["bands"] = band_shares(bands, rows["drug"].to_numpy(), scores["head"])
    return result
