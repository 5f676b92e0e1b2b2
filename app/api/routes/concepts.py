"""The concept and task registries, for clients that render concept panels."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ContextDep
from app.services.concepts import registry_out

router = APIRouter(tags=["concepts"])


@router.get("/concepts")
async def list_concepts(context: ContextDep) -> dict[str, object]:
    """Every concept (bottleneck order) with unit, kind, normal range and thresholds, whether it
    is derived (and which primary concept a typed value of it sets) or checkable on a strip; the
    change concepts against a series' baseline; the tasks with the loaded model's risk bands; and
    the QTc formulas with the one shown as the QTc (``QTLENS_PRIMARY_QTC``)."""
    return registry_out(context.settings.primary_qtc,
                        context.model.bands if context.model is not None else None)
