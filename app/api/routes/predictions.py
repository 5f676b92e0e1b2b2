"""Predictions, interventions (override / revert) and the "check next" suggestion."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from app.api.deps import AnyUser, ClinicianUser, ContextDep, CsrfChecked, RowId
from app.api.routes.records import record_or_404
from app.context import AppContext
from app.isolation import analyse_concepts, measure_concepts
from app.services import predictions as service
from app.services import records as record_service
from app.services.schemas import (
    FiducialMoveIn,
    InterventionIn,
    InterventionOut,
    PredictionOut,
    SuggestionOut,
)
from app.services.users import User

router = APIRouter(tags=["predictions"])


def not_found(prediction_id: int) -> HTTPException:
    """The 404 of a prediction that does not exist (or whose record was deleted)."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no prediction {prediction_id}")


def prediction_or_404(session: service.Session,
                      prediction_id: int) -> tuple[service.Prediction, service.Record]:
    """The prediction and its live record, or 404."""
    try:
        return service.get_prediction(session, prediction_id)
    except service.PredictionNotFound:
        raise not_found(prediction_id) from None


def state_or_404(session: service.Session, context: AppContext,
                 prediction_id: int) -> service.PredictionState:
    """The prediction as it stands (:class:`~app.services.predictions.PredictionState`), or 404."""
    try:
        return service.prediction_state(session, context.model, prediction_id)
    except service.PredictionNotFound:
        raise not_found(prediction_id) from None


@router.post("/records/{public_id}/predictions", response_model=PredictionOut, status_code=201,
             dependencies=[CsrfChecked])
async def create_prediction(public_id: str, user: ClinicianUser,
                            context: ContextDep) -> PredictionOut:
    """Measure the concepts and run the model on the record (in the bounded worker pool)."""
    # Database work goes to the thread pool too: a write may wait for the SQLite lock, and the
    # event loop must keep answering (``/health`` among others) meanwhile.
    started = time.perf_counter()
    stored = await run_in_threadpool(_stored_ecg, context, public_id)
    # Decoding and measurement (Python-bound delineation) in a capped worker process; the
    # network there too on a CPU (one prediction, one core), here on a GPU.
    if context.isolated.runs_model:
        analysed = await context.isolated.run(analyse_concepts, stored)
        try:
            run = service.worker_run(context.model, analysed)
        except service.ModelMismatch as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    else:
        ecg = stored.ecg()
        measurements = await context.isolated.run(measure_concepts, ecg)
        run = await context.pool.run(service.analyse, context.model, ecg, measurements)
    run = dataclasses.replace(run, latency_ms=(time.perf_counter() - started) * 1000.0)
    return await run_in_threadpool(_store_prediction, context, public_id, user, run)


def _stored_ecg(context: AppContext, public_id: str) -> record_service.StoredEcg:
    with context.db.read() as session:
        return record_service.stored_ecg(record_or_404(session, public_id, with_signal=True))


def _store_prediction(context: AppContext, public_id: str, user: User,
                      run: service.PredictionRun) -> PredictionOut:
    with context.db.write() as session:
        record = record_or_404(session, public_id)
        prediction = service.store_prediction(session, context.model, record, user, run)
        state = service.with_series(session, service.load_state(context.model, prediction,
                                                                  record, {}))
        # The answer names the prediction and what it found; its delineation (80 kB of median
        # beats) is read with GET /predictions/{id}, as the record page does.
        return service.prediction_view(state, user, context.settings.primary_qtc,
                                       delineation=False, checks=run.check_next)


@router.get("/predictions/{prediction_id}", response_model=PredictionOut)
def get_prediction(prediction_id: RowId, user: AnyUser, context: ContextDep) -> PredictionOut:
    """The prediction in its current state (every override applied)."""
    with context.db.read() as session:
        state = state_or_404(session, context, prediction_id)
        return service.prediction_view(state, user, context.settings.primary_qtc)


async def _intervene(context: AppContext, prediction_id: int, user: User,
                     change: Callable[[service.Session], service.Edit]) -> InterventionOut:
    """Run ``change`` (a service edit) in one write transaction in the thread pool; its refusals
    become 404, 409 (another model) or 422 (the message says why). The routes that call this
    are async, so that the answer is checked and serialised without a second thread hop."""
    return await run_in_threadpool(_edit_and_view, context, prediction_id, user, change)


def _edit_and_view(context: AppContext, prediction_id: int, user: User,
                   change: Callable[[service.Session], service.Edit]) -> InterventionOut:
    """The blocking half of :func:`_intervene`: the edit and the prediction after it."""
    with context.db.write() as session:
        try:
            edit = change(session)
        except service.PredictionNotFound:
            raise not_found(prediction_id) from None
        except service.ModelMismatch as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        view = service.prediction_view(edit.after, user, context.settings.primary_qtc,
                                       delineation=False)
        return service.intervention_out(edit.event, user, user, view)


@router.post("/predictions/{prediction_id}/interventions", response_model=InterventionOut,
             status_code=201, dependencies=[CsrfChecked])
async def create_intervention(prediction_id: RowId, body: InterventionIn, user: ClinicianUser,
                              context: ContextDep) -> InterventionOut:
    """Override one concept; the risk is recomputed by the task head and the edit is logged."""
    return await _intervene(context, prediction_id, user, lambda session: service.edit_prediction(
        session, context.model, prediction_id, user, body.concept, "override", body.value,
        body.source, body.comment))


@router.post("/predictions/{prediction_id}/fiducials", response_model=InterventionOut,
             status_code=201, dependencies=[CsrfChecked])
async def move_fiducials(prediction_id: RowId, body: FiducialMoveIn, user: ClinicianUser,
                         context: ContextDep) -> InterventionOut:
    """Move median-beat fiducials (ms from R): one ``fiducial`` event overrides QT, QRS, PR,
    J-Tpeak and Tpeak-Tend as the positions define them; revert with
    ``DELETE /predictions/{id}/interventions/fiducials``."""
    moves = body.moves_ms()
    if not moves:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "give at least one of p_onset_ms, qrs_onset_ms, qrs_offset_ms, "
                            "t_peak_ms, t_end_ms")
    return await _intervene(context, prediction_id, user, lambda session: service.edit_fiducials(
        session, context.model, prediction_id, user, moves, body.comment))


@router.delete("/predictions/{prediction_id}/interventions/{concept}",
               response_model=InterventionOut, dependencies=[CsrfChecked])
async def revert_intervention(prediction_id: RowId, concept: str, user: ClinicianUser,
                              context: ContextDep) -> InterventionOut:
    """Revert a concept to the model's value: a new *revert* event, never a row removal."""
    return await _intervene(context, prediction_id, user, lambda session: service.edit_prediction(
        session, context.model, prediction_id, user, concept, "revert"))


@router.get("/predictions/{prediction_id}/interventions", response_model=list[InterventionOut])
def list_interventions(prediction_id: RowId, user: AnyUser,
                       context: ContextDep) -> list[InterventionOut]:
    """The prediction's intervention history, oldest first."""
    with context.db.read() as session:
        try:
            return service.intervention_history(session, prediction_id, user)
        except service.PredictionNotFound:
            raise not_found(prediction_id) from None


@router.get("/predictions/{prediction_id}/suggestion", response_model=list[SuggestionOut])
def get_suggestions(prediction_id: RowId, user: AnyUser, context: ContextDep,
                    policy: Literal["random", "uncertainty", "expected_risk_change"] =
                    "expected_risk_change",
                    task: Literal["lqts_risk", "tdp_risk"] = "lqts_risk",
                    limit: Annotated[int, Query(ge=1, le=50)] = 5) -> list[SuggestionOut]:
    """Concepts a clinician can check on this record and has not set, best first, under the
    chosen policy, for the chosen risk."""
    with context.db.read() as session:
        state = state_or_404(session, context, prediction_id)
    if not state.editable:
        raise HTTPException(status.HTTP_409_CONFLICT, f"prediction made by "
                            f"{state.prediction.model_name}; run a new prediction")
    return service.suggestions(state, policy, (task,), limit=limit)[task]
