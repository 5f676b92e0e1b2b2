"""What a risk means, in one plain sentence, from the bundle's card.

A probability next to "Drug-induced TdP risk" says nothing by itself: the head behind it was
learned from some data, for some label, or is a published point system. :func:`read_risk` turns
a card's task-head entry (:func:`models.bundle.task_heads`) and a :class:`TaskRisk` into the
sentence the record page, the API and ``qtlens predict`` show beside the risk, the name of the
head that produced it, and — for a points head — its points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from models.bundle import head_bands, task_heads
from models.heads.points import POINTS_KIND, fewest_points_reaching, logit, points_from_logit
from models.nets.prediction import TaskRisk
from models.tasks import Bands, get_task

#: What the network's own head's probability means when the card does not say: the label of
#: the data it was trained on, by data source.
_NETWORK_MEANING = {
    "synthetic": "probability of the {label} label of QTLens' synthetic causal model (a "
    "simulation, not a patient's risk)",
}


@dataclass(frozen=True)
class RiskReading:
    """A risk as a clinician should read it.

    Attributes:
        head: which head produced the risk (``"Schwartz score (ECG items)"``, ``"logistic head
            on concepts"``, ``"joint network head"``).
        kind: ``network``, ``logistic`` or ``points``.
        sentence: what the number is and what it was learned from, in one sentence.
        points, max_points: a points head's score and the most its items can give (else None).
        bands_set_by: how the band cut-offs were set.
        band_cutoffs: where this head's bands begin, as the risk is shown
            (:func:`cutoffs_text`): a calibrated head's "low" may sit at a high probability.
    """

    head: str
    kind: str
    sentence: str
    points: float | None = None
    max_points: float | None = None
    bands_set_by: str = ""
    band_cutoffs: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def percent_text(probability: float) -> str:
    """``probability`` (0–1) in per cent with the decimals that tell it from 100 %: 0.2 →
    "20 %", 0.9646 → "96.5 %", 0.9989 → "99.89 %"."""
    if probability >= 1.0:
        return "100 %"
    decimals = max(0, math.ceil(-math.log10(1.0 - probability)) - 1)
    return f"{100.0 * probability:.{decimals}f} %"


def cutoffs_text(bands: Bands, points: bool = False) -> str:
    """Where ``bands`` begin, as the risk is shown: "intermediate from 96.5 %, high from
    99.89 %"; for a points head (``points``) in its points, "intermediate from 1.5 points, high
    from 3.5 points"."""

    def at(probability: float) -> str:
        if not points:
            return percent_text(probability)
        return f"{fewest_points_reaching(logit(probability)):g} points"

    return f"intermediate from {at(bands.intermediate_from)}, high from {at(bands.high_from)}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_head(card: Mapping[str, Any], task: str) -> RiskReading:
    """The head a bundle ``card`` puts in force for ``task``, and what its number means (for a
    points head: what its points mean; no score filled in).

    Raises:
        BundleError: a malformed ``task_heads`` section.
    """
    entry = task_heads(dict(card))[task]
    kind = str(entry.get("kind", "network"))
    learned_from = str(entry.get("learned_from", "")).strip()
    bands = head_bands(task, entry)
    set_by, cutoffs = bands.set_by, cutoffs_text(bands, points=kind == POINTS_KIND)
    label = get_task(task).label
    if kind == POINTS_KIND:
        name = str(entry.get("name", "points score"))
        max_points = float(entry.get("max_points", 0.0)) or None
        sentence = (
            f"Points of the {name}, read as the score's published probability categories of "
            f"congenital long-QT syndrome ({entry.get('reference', '')}); fixed published "
            "weights, nothing learned from data."
        )
        return RiskReading(name, kind, sentence, None, max_points, set_by, cutoffs)
    if kind == "logistic":
        head = "logistic head on concepts"
        meaning = str(entry.get("probability_meaning") or f"probability of the {label} label")
    else:
        head = f"{card.get('variant', '')} network head".strip()
        source = str(card.get("data", {}).get("source", ""))
        meaning = str(
            entry.get("probability_meaning")
            or _NETWORK_MEANING.get(source, "probability of the {label} label of the "
                                    "training data").format(label=label)
        )
    sentence = f"{_capital(meaning)} — {learned_from or 'learned from unstated data'}."
    return RiskReading(head, kind, sentence, bands_set_by=set_by, band_cutoffs=cutoffs)


def read_risk(card: Mapping[str, Any], task: str, risk: TaskRisk,
              heart_rate_bpm: float | None = None) -> RiskReading:
    """:func:`describe_head` for ``risk``: a points head's sentence states its score and category,
    and warns when its QTc points rest on Bazett's formula at a fast rate.

    Args:
        card: the bundle's model card (:attr:`models.bundle.LoadedBundle.card`).
        task: task name.
        risk: the risk (after any overrides).
        heart_rate_bpm: the heart rate in force (bpm), when known.
    """
    head = describe_head(card, task)
    if head.kind != POINTS_KIND:
        return head
    points = risk.points if risk.points is not None else points_from_logit(risk.logit)
    out_of = f" of {head.max_points:g}" if head.max_points else ""
    entry = task_heads(dict(card))[task]
    reference = entry.get("short_reference") or entry.get("reference", "")
    sentence = (
        f"{head.head}: {points:g}{out_of} points — {risk.band.value} probability of congenital "
        f"long-QT syndrome in the score's published categories ({reference}); fixed published "
        "weights, nothing learned from data."
    )
    if _bazett_overcorrects(risk, heart_rate_bpm):
        sentence += (
            f" At {heart_rate_bpm:.0f} bpm Bazett's formula, which the score counts, overcorrects "
            "the QT, so its QTc points may be too many: compare the QTc (Fridericia)."
        )
    return replace(head, sentence=sentence, points=points)


#: Above this heart rate (bpm) Bazett's QTc overstates the QT's prolongation (Rautaharju PM et
#: al. Circulation 119:e241 (2009); Vandenberk B et al. J Am Heart Assoc 5:e003264 (2016)).
BAZETT_OVERCORRECTS_ABOVE_BPM = 100.0


def _bazett_overcorrects(risk: TaskRisk, heart_rate_bpm: float | None) -> bool:
    """Whether ``risk`` gets points from Bazett's QTc at a rate where that formula overcorrects."""
    fast = heart_rate_bpm is not None and heart_rate_bpm > BAZETT_OVERCORRECTS_ABOVE_BPM
    return fast and risk.contributions.get("qtc_bazett", 0.0) > 0.0
