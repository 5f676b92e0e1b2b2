"""The concept and task registries as clients read them (the concept panels, the worklist)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from models.change import CHANGE_REGISTRY
from models.concepts import QTC_FORMULAS, REGISTRY, Concept
from models.tasks import TASKS, Bands


def _bound(value: float) -> float | None:
    """A plausibility bound for JSON (``None`` when open)."""
    return value if math.isfinite(value) else None


def concept_out(c: Concept) -> dict[str, object]:
    """One concept's public description: unit, kind, ranges (the usual range is the one the
    flags use for a patient of unknown sex, :meth:`Concept.normal_bounds`), thresholds, and how
    it relates to the others (derived from, the primary concept a typed value of it sets,
    checkable on a strip, the one lead it is read in)."""
    normal_low, normal_high = c.normal_bounds()
    return {
        "name": c.name,
        "label": c.label,
        "unit": c.unit,
        "kind": c.kind.value,
        "description": c.description,
        "how_measured": c.how_measured,
        "normal_range": c.normal_range_text(),
        "normal_low": normal_low,
        "normal_high": normal_high,
        "range_at_60_bpm": c.range_at_60_bpm,
        "plausible_low": None if c.is_binary else _bound(c.plausible_low),
        "plausible_high": None if c.is_binary else _bound(c.plausible_high),
        "thresholds": [
            {"value": t.value, "level": t.level.value, "direction": t.direction,
             "inclusive": t.inclusive, "sex": t.sex, "note": t.note}
            for t in c.thresholds
        ],
        "derived_from": list(c.derived_from),
        "sets": c.solves,
        "can_be_typed": c.can_be_typed,
        "checkable": c.can_be_checked,
        "lead": c.lead,
        "references": list(c.references),
        "decimals": c.decimals,
    }


def registry_out(primary_qtc: str, bands: Mapping[str, Bands] | None) -> dict[str, object]:
    """Every concept (bottleneck order); the change concepts of an ECG against its series'
    baseline (derived from the concept they name, in % for T amplitudes); the tasks with the
    loaded model's bands in force (``bands``; the task defaults when no model is loaded); and
    the QTc formulas with the one shown as the QTc (``primary_qtc``, a setting)."""
    return {
        "concepts": [concept_out(c) for c in REGISTRY],
        "change_concepts": [
            {**concept_out(change.concept), "relative": change.relative}
            for change in CHANGE_REGISTRY
        ],
        "tasks": [
            {"name": t.name, "label": t.label, "description": t.description,
             **(bands[t.name] if bands else t.bands).to_dict()}
            for t in TASKS
        ],
        "qtc_formulas": list(QTC_FORMULAS),
        "primary_qtc": primary_qtc,
    }
