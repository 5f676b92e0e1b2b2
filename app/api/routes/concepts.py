"""The concept and task registries, for clients that render concept panels."""

from __future__ import annotations

from fastapi import APIRouter

from models.concepts import REGISTRY
from models.tasks import TASKS

router = APIRouter(tags=["concepts"])


@router.get("/concepts")
async def list_concepts() -> dict[str, list[dict[str, object]]]:
    """Every concept (bottleneck order) with unit, kind, normal range and thresholds, and tasks."""
    return {
        "concepts": [
            {
                "name": c.name,
                "label": c.label,
                "unit": c.unit,
                "kind": c.kind.value,
                "description": c.description,
                "how_measured": c.how_measured,
                "normal_range": c.normal_range_text(),
                "normal_low": c.normal_low,
                "normal_high": c.normal_high,
                "plausible_low": None if c.is_binary else c.plausible_low,
                "plausible_high": None if c.is_binary else c.plausible_high,
                "thresholds": [
                    {"value": t.value, "level": t.level.value, "direction": t.direction,
                     "sex": t.sex, "note": t.note}
                    for t in c.thresholds
                ],
                "derived_from": list(c.derived_from),
                "references": list(c.references),
                "decimals": c.decimals,
            }
            for c in REGISTRY
        ],
        "tasks": [
            {"name": t.name, "label": t.label, "description": t.description,
             "intermediate_from": t.intermediate_from, "high_from": t.high_from}
            for t in TASKS
        ],
    }
