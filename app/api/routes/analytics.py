"""Researcher analytics: aggregates over clinicians' interventions (pseudonymous, no rows)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.api.deps import ContextDep, ResearcherUser
from app.api.filters import ConceptQuery, FromQuery, ModelQuery, ToQuery, UserQuery, time_window
from app.services import analytics
from app.services.bands import BandsInForce

router = APIRouter(prefix="/analytics", tags=["analytics"])

class FiltersOut(BaseModel):
    """The filters the aggregates were computed with (``null`` = no bound / all)."""

    day_from: date | None = Field(serialization_alias="from",
                                  description="First day (UTC), inclusive.")
    day_to: date | None = Field(serialization_alias="to", description="Last day (UTC), inclusive.")
    model: str | None = Field(description="Model name or checksum.")
    user: str | None = Field(description="Clinician pseudonym.")
    concept: str | None


class InterventionAnalytics(analytics.InterventionSummary):
    """Aggregates over interventions for the researcher dashboard, with the filters echoed."""

    filters: FiltersOut


@router.get("/interventions", response_model=InterventionAnalytics)
def intervention_analytics(researcher: ResearcherUser, context: ContextDep,
                           day_from: FromQuery = None, day_to: ToQuery = None,
                           model: ModelQuery = None, clinician: UserQuery = None,
                           concept: ConceptQuery = None) -> InterventionAnalytics:
    """Per concept: overrides, reverts, mean |model − clinician| in the concept's unit, mean risk
    change and risk-band flips per task; per clinician (pseudonym), per model version and per
    day. Risk statistics count overrides only (a revert undoes one)."""
    if day_from and day_to and day_from > day_to:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"'from' ({day_from}) is after 'to' ({day_to})")
    try:
        analytics.check_concept(concept)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    scope = analytics.InterventionScope(window=time_window(day_from, day_to, model),
                                        user=clinician, concept=concept)
    with context.db.read() as session:
        summary = analytics.summarise(session, scope, BandsInForce.of(context.model))
    return InterventionAnalytics(
        **dict(summary),
        filters=FiltersOut(day_from=day_from, day_to=day_to, model=model, user=clinician,
                           concept=concept),
    )
