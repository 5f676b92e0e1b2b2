"""Predictions, interventions (override / revert) and the "check next" suggestion."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import AnyUser, ClinicianUser, ContextDep, CsrfChecked, RowId
from app.api.routes.records import record_or_404
from app.api.schemas import (
    FiducialMoveIn,
    InterventionIn,
    InterventionOut,
    PredictionOut,
    SuggestionOut,
)
from app.context import AppContext
from app.db.models import Intervention, Prediction, Record, User
from app.isolation import measure_concepts
from app.services import predictions as service
from app.services import records as record_service
from app.services.users import shown_comment, shown_name
from models.concepts import get_concept
from models.ecg.record import Ecg
from models.intervene import suggest
from models.nets.prediction import ModelPrediction

router = APIRouter(tags=["predictions"])


def prediction_or_404(session: Session, prediction_id: int) -> tuple[Prediction, Record]:
    """The prediction and its live record, or 404."""
    try:
        return service.get_prediction(session, prediction_id)
    except service.PredictionNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no prediction {prediction_id}") from None


@router.post("/records/{public_id}/predictions", response_model=PredictionOut, status_code=201,
             dependencies=[CsrfChecked])
async def create_prediction(public_id: str, user: ClinicianUser,
                            context: ContextDep) -> PredictionOut:
    """Measure the concepts and run the model on the record (in the bounded worker pool)."""
    # Database work goes to the thread pool too: a write may wait for the SQLite lock, and the
    # event loop must keep answering (``/health`` among others) meanwhile.
    started = time.perf_counter()
    ecg = await run_in_threadpool(_stored_ecg, context, public_id)
    # Measurement (Python-bound delineation) in a capped worker process, the network here.
    measurements = await context.isolated.run(measure_concepts, ecg)
    run = await context.pool.run(service.analyse, context.model, ecg, measurements)
    run = dataclasses.replace(run, latency_ms=(time.perf_counter() - started) * 1000.0)
    return await run_in_threadpool(_store_prediction, context, public_id, user, run)


def _stored_ecg(context: AppContext, public_id: str) -> Ecg:
    with context.db.read() as session:
        return record_service.record_ecg(record_or_404(session, public_id))


def _store_prediction(context: AppContext, public_id: str, user: User,
                      run: service.PredictionRun) -> PredictionOut:
    with context.db.write() as session:
        record = record_or_404(session, public_id)
        prediction = service.store_prediction(session, context.model, record, user, run)
        return service.prediction_view(session, context.model, prediction, record, user)


@router.get("/predictions/{prediction_id}", response_model=PredictionOut)
def get_prediction(prediction_id: RowId, user: AnyUser, context: ContextDep) -> PredictionOut:
    """The prediction in its current state (every override applied)."""
    with context.db.read() as session:
        prediction, record = prediction_or_404(session, prediction_id)
        return service.prediction_view(session, context.model, prediction, record, user)


def _intervention_out(event: Intervention, author: User, viewer: User,
                      view: PredictionOut | None) -> InterventionOut:
    """The event as ``viewer`` may see it: researchers get the author's pseudonym and no
    comment."""
    return InterventionOut(
        id=event.id, created_at=event.created_at, action=event.action,  # type: ignore[arg-type]
        concept=event.concept, unit=event.unit, model_value=event.model_value,
        previous_value=event.previous_value, new_value=event.new_value,
        risks_before=dict(event.risks_before), risks_after=dict(event.risks_after),
        user=shown_name(viewer, author.username, author.pseudonym), source=event.source,
        comment=shown_comment(viewer, event.comment), fiducials=event.fiducials, prediction=view,
    )


def _intervene(context: AppContext, prediction_id: int, user: User,
               change: Callable[..., Intervention]) -> InterventionOut:
    """Run ``change(session, bundle, prediction, record, user)`` (a service edit) in one write
    transaction; its refusals become 409 (another model) or 422 (the message says why)."""
    with context.db.write() as session:
        prediction, record = prediction_or_404(session, prediction_id)
        try:
            event = change(session, context.model, prediction, record, user)
        except service.ModelMismatch as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        view = service.prediction_view(session, context.model, prediction, record, user)
        return _intervention_out(event, user, user, view)


@router.post("/predictions/{prediction_id}/interventions", response_model=InterventionOut,
             status_code=201, dependencies=[CsrfChecked])
def create_intervention(prediction_id: RowId, body: InterventionIn, user: ClinicianUser,
                        context: ContextDep) -> InterventionOut:
    """Override one concept; the risk is recomputed by the task head and the edit is logged."""
    return _intervene(context, prediction_id, user, partial(
        service.record_intervention, concept=body.concept, action="override", value=body.value,
        source=body.source, comment=body.comment))


@router.post("/predictions/{prediction_id}/fiducials", response_model=InterventionOut,
             status_code=201, dependencies=[CsrfChecked])
def move_fiducials(prediction_id: RowId, body: FiducialMoveIn, user: ClinicianUser,
                   context: ContextDep) -> InterventionOut:
    """Move median-beat fiducials (ms from R): one ``fiducial`` event overrides QT, QRS, PR,
    J-Tpeak and Tpeak-Tend as the positions define them; revert with
    ``DELETE /predictions/{id}/interventions/fiducials``."""
    moves = body.moves_ms()
    if not moves:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "give at least one of p_onset_ms, qrs_onset_ms, qrs_offset_ms, "
                            "t_peak_ms, t_end_ms")
    return _intervene(context, prediction_id, user, partial(
        service.move_fiducials, moves_ms=moves, comment=body.comment))


@router.delete("/predictions/{prediction_id}/interventions/{concept}",
               response_model=InterventionOut, dependencies=[CsrfChecked])
def revert_intervention(prediction_id: RowId, concept: str, user: ClinicianUser,
                        context: ContextDep) -> InterventionOut:
    """Revert a concept to the model's value: a new *revert* event, never a row removal."""
    return _intervene(context, prediction_id, user, partial(
        service.record_intervention, concept=concept, action="revert"))


@router.get("/predictions/{prediction_id}/interventions", response_model=list[InterventionOut])
def list_interventions(prediction_id: RowId, user: AnyUser,
                       context: ContextDep) -> list[InterventionOut]:
    """The prediction's intervention history, oldest first."""
    with context.db.read() as session:
        prediction_or_404(session, prediction_id)
        rows = session.execute(
            select(Intervention, User)
            .join(User, Intervention.user_id == User.id)
            .where(Intervention.prediction_id == prediction_id)
            .order_by(Intervention.id)
        ).all()
        return [_intervention_out(event, author, user, None) for event, author in rows]


@router.get("/predictions/{prediction_id}/suggestion", response_model=list[SuggestionOut])
def get_suggestions(prediction_id: RowId, user: AnyUser, context: ContextDep,
                    policy: Literal["random", "uncertainty", "expected_risk_change"] =
                    "expected_risk_change",
                    task: Literal["lqts_risk", "tdp_risk"] = "lqts_risk",
                    limit: Annotated[int, Query(ge=1, le=50)] = 5) -> list[SuggestionOut]:
    """Concepts worth checking next, best first, under the chosen policy."""
    with context.db.read() as session:
        prediction, record = prediction_or_404(session, prediction_id)
        overrides = {c: o.value for c, o in service.current_overrides(session, prediction).items()}
    if prediction.model_checksum != context.model.checksum:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"prediction made by {prediction.model_name}; run a new prediction")
    ranked = suggest(context.model, ModelPrediction.from_dict(prediction.model_output), overrides,
                     policy=policy, task=task, sex=record.sex, age=record.age_years,
                     measured=service.measured_values(prediction.measurements))
    return [SuggestionOut(concept=s.concept, label=get_concept(s.concept).label, score=s.score,
                          expected_risk_change=s.expected_risk_change, reason=s.reason_text)
            for s in ranked[:limit]]
