"""Researcher exports of interventions and predictions (streamed; pseudonymous ids only)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from app.api.deps import ContextDep, ResearcherUser
from app.services import exports
from app.services.audit import record_event

router = APIRouter(prefix="/exports", tags=["exports"])

FormatQuery = Annotated[Literal["csv", "jsonl", "parquet"], Query(alias="format")]
#: An empty form field (``from=``) means "no bound", as HTML forms send blank inputs.
_BLANK_IS_NONE = BeforeValidator(lambda value: value or None)
FromQuery = Annotated[date | None, _BLANK_IS_NONE,
                      Query(alias="from", description="First day (UTC), inclusive.")]
ToQuery = Annotated[date | None, _BLANK_IS_NONE,
                    Query(alias="to", description="Last day (UTC), inclusive.")]
ModelQuery = Annotated[str | None, _BLANK_IS_NONE,
                       Query(max_length=128, description="Model name or checksum.")]


def _filter(day_from: date | None, day_to: date | None, model: str | None) -> exports.ExportFilter:
    start = datetime.combine(day_from, time.min, tzinfo=timezone.utc) if day_from else None
    end = (datetime.combine(day_to, time.min, tzinfo=timezone.utc) + timedelta(days=1)
           if day_to else None)
    return exports.ExportFilter(created_from=start, created_to=end, model=model or None)


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
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        exports.stream(context.db, kind, export_format, export_filter),  # type: ignore[arg-type]
        media_type=exports.MEDIA_TYPES[export_format],
        headers={"Content-Disposition":
                 f'attachment; filename="qtlens-{kind}-{stamp}.{export_format}"'},
    )


@router.get("/interventions", response_class=StreamingResponse)
def export_interventions(user: ResearcherUser, context: ContextDep,
                         export_format: FormatQuery = "csv", day_from: FromQuery = None,
                         day_to: ToQuery = None, model: ModelQuery = None) -> StreamingResponse:
    """Every override and revert with model value, clinician value and risks before/after."""
    return _export("interventions", export_format, _filter(day_from, day_to, model), user,
                   context)


@router.get("/predictions", response_class=StreamingResponse)
def export_predictions(user: ResearcherUser, context: ContextDep,
                       export_format: FormatQuery = "csv", day_from: FromQuery = None,
                       day_to: ToQuery = None, model: ModelQuery = None) -> StreamingResponse:
    """Every prediction with its risks, model concept values and measured concept values."""
    return _export("predictions", export_format, _filter(day_from, day_to, model), user, context)
