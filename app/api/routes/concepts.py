"""The concept and task registries, for clients that render concept panels."""

from __future__ import annotations

import math

from fastapi import APIRouter

from models.change import CHANGE_REGISTRY
from models.concepts import REGISTRY, Concept
from models.tasks import TASKS

router = APIRouter(tags=["concepts"])


def _bound(value: float) -> float | None:
    """A plausibility bound for JSON (``None`` when open)."""
    return value if math.isfinite(value) else None


def _concept(c: Concept) -> dict[str, object]:
    """One concept's public description (unit, kind, ranges, thresholds, derivation)."""
    return {
        "name": c.name,
        "label": c.label,
        "unit": c.unit,
        "kind": c.kind.value,
        "description": c.description,
        "how_measured": c.how_measured,
        "normal_range": c.normal_range_text(),
        "normal_low": c.normal_low,
        "normal_high": c.normal_high,
        "plausible_low": None if c.is_binary else _bound(c.plausible_low),
        "plausible_high": None if c.is_binary else _bound(c.plausible_high),
        "thresholds": [
            {"value": t.value, "level": t.level.value, "direction": t.direction,
             "sex": t.sex, "note": t.note}
            for t in c.thresholds
        ],
        "derived_from": list(c.derived_from),
        "references": list(c.references),
        "decimals": c.decimals,
    }


@router.get("/concepts")
async def list_concepts() -> dict[str, list[dict[str, object]]]:
    """Every concept (bottleneck order) with unit, kind, normal range and thresholds; the change
    concepts of an ECG against its series' baseline (derived from the concept they name, in %
    for T amplitudes); and the tasks."""
    return {
        "concepts": [_concept(c) for c in REGISTRY],
        "change_concepts": [
            {**_concept(change.concept), "relative": change.relative}
            for change in CHANGE_REGISTRY
        ],
        "tasks": [
            {"name": t.name, "label": t.label, "description": t.description,
             "intermediate_from": t.intermediate_from, "high_from": t.high_from}
            for t in TASKS
        ],
    }
