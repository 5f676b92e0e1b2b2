"""The concept and task registries as clients read them (the concept panels, the worklist)."""

from __future__ import annotations

from models.concepts import QTC_FORMULAS, REGISTRY
from models.tasks import TASKS


def registry_out(primary_qtc: str) -> dict[str, object]:
    """Every concept (bottleneck order) with unit, kind, normal range, thresholds, how it relates
    to the others (derived from, sets, checkable), the tasks, and the QTc formulas with the one
    shown as the QTc (``primary_qtc``, a setting)."""
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
                "sets": c.solves,
                "can_be_typed": c.can_be_typed,
                "checkable": c.checkable,
                "lead": c.lead,
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
        "qtc_formulas": list(QTC_FORMULAS),
        "primary_qtc": primary_qtc,
    }
