"""Researcher exports of interventions and predictions (streamed; pseudonymous ids only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.deps import ContextDep, ResearcherUser
from app.api.filters import FromQuery, ModelQuery, ToQuery, time_window
from app.services import exports
from app.services.audit import record_event
from app.services.bands import BandsInForce

router = APIRouter(prefix="/exports", tags=["exports"])

FormatQuery = Annotated[Literal["csv", "jsonl", "parquet"], Query(alias="format")]


def _export(kind: Literal["interventions", "predictions"], export_format: str,
            export_filter: exports.ExportFilter, user: ResearcherUser,
            context: ContextDep) -> StreamingResponse:
    with context.db.write() as session:
        record_event(session, "export", user.id, kind=kind, format=export_format,
                     model=export_filter.model,
                     created_from=export_filter.created_from.isoformat()
                     if export_filter.created_from else None,
                     created_to=export_filter.created_to.isoformat()
                     if export_filter.created_to else None)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        exports.stream(context.db, kind, export_format, export_filter,  # type: ignore[arg-type]
                       BandsInForce.of(context.model)),
        media_type=exports.MEDIA_TYPES[export_format],
        headers={"Content-Disposition":
                 f'attachment; filename="qtlens-{kind}-{stamp}.{export_format}"'},
    )


@router.get("/interventions", response_class=StreamingResponse)
def export_interventions(user: ResearcherUser, context: ContextDep,
                         export_format: FormatQuery = "csv", day_from: FromQuery = None,
                         day_to: ToQuery = None, model: ModelQuery = None) -> StreamingResponse:
    """Every override and revert with model value, clinician value and risks before/after."""
    return _export("interventions", export_format, time_window(day_from, day_to, model), user,
                   context)


@router.get("/predictions", response_class=StreamingResponse)
def export_predictions(user: ResearcherUser, context: ContextDep,
                       export_format: FormatQuery = "csv", day_from: FromQuery = None,
                       day_to: ToQuery = None, model: ModelQuery = None) -> StreamingResponse:
    """Every prediction with its risks, model concept values and measured concept values."""
    return _export("predictions", export_format, time_window(day_from, day_to, model), user, context)
