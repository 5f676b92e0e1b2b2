"""Attributions of a prediction for the overlay on the record page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.api.deps import AnyUser, ContextDep, RowId
from app.api.routes.predictions import prediction_or_404
from app.context import AppContext
from app.services import explanations as service
from app.services import records as record_service

router = APIRouter(tags=["explanations"])


class OptionOut(BaseModel):
    """A method or target the overlay can show."""

    name: str
    label: str


class LeadAttributionOut(BaseModel):
    """One lead's attribution along the record."""

    lead: str
    values: list[float] = Field(
        description="Attribution in [−1, 1] (× `scale` for target units), one value per "
        "1/`fs_hz` s from `start_s`; block means of the model-rate attribution."
    )


class MedianBeatAttributionOut(BaseModel):
    """One lead's attribution averaged over the beats of its median beat."""

    lead: str
    start_s: float = Field(description="Time of the first value relative to the R peak (s).")
    fs_hz: float
    values: list[float]


class ExplanationOut(BaseModel):
    """Per-lead attributions of one prediction, decimated and normalised for plotting."""

    prediction_id: int
    model_name: str
    model_checksum: str
    method: str
    method_label: str
    signed: bool = Field(description="False for saliency and Grad-CAM (values ≥ 0).")
    target: str
    target_label: str
    target_unit: str = Field(description="`logit` for a task, the concept's unit otherwise.")
    target_value: float
    baseline_value: float | None = Field(
        description="The target for a flat (isoelectric) ECG; null for methods without baseline."
    )
    completeness_gap: float | None = Field(
        description="|Σ attribution − (target − baseline)| / |target − baseline|."
    )
    start_s: float = Field(description="Record time of the first value of every lead (s).")
    fs_hz: float = Field(description="Values per second in `leads`.")
    scale: float = Field(description="Attribution (target units) that a value of 1 stands for.")
    leads: list[LeadAttributionOut]
    median_beats: list[MedianBeatAttributionOut]
    methods: list[OptionOut] = Field(description="Every method this endpoint accepts.")
    targets: list[OptionOut] = Field(description="Every target this model accepts.")
    cached: bool = Field(description="Served from the in-memory cache.")
    seconds: float = Field(description="Time the attribution took when it was computed.")




def _stored_prediction(context: AppContext, prediction_id: int) -> tuple[
        record_service.Ecg, dict[str, Any], str, str]:
    """The record's signal, the stored measurements and the model identity (in a thread)."""
    with context.db.read() as session:
        prediction, record = prediction_or_404(session, prediction_id)
        return (record_service.record_ecg(record), dict(prediction.measurements),
                prediction.model_name, prediction.model_checksum)


@router.get(
    "/predictions/{prediction_id}/explanations",
    response_model=ExplanationOut,
    responses={404: {"description": "no such prediction or record"},
               409: {"description": "the prediction was made by another model"},
               422: {"description": "unknown method or target"}},
)
async def get_explanation(
    prediction_id: RowId,
    user: AnyUser,
    context: ContextDep,
    method: Annotated[str, Query(description="ig, saliency, deeplift, input_x_gradient, "
                                             "gradient_shap or grad_cam.")] = "ig",
    target: Annotated[str | None, Query(description="a task with a learned head (tdp_risk…) or "
                                                    "(concept models) a concept name such as qt; "
                                                    "default: the first of `targets`.")] = None,
) -> ExplanationOut:
    """What in the ECG drove the prediction's risk (or a predicted concept), per lead —
    computed on the loaded model from the stored record, in the worker pool, then cached."""
    bundle = context.model
    target = service.default_target(bundle) if target is None else target
    try:
        service.validate_request(bundle, method, target)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    ecg, measurements, model_name, checksum = await run_in_threadpool(
        _stored_prediction, context, prediction_id)
    if checksum != bundle.checksum:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"prediction made by {model_name}; run a new prediction")
    key = (prediction_id, checksum, method, target)
    cache = context.explanations
    explanation = cache.get(key)
    cached = explanation is not None
    if explanation is None:
        explanation = await context.pool.run(
            service.compute_explanation, bundle, ecg, measurements, method, target)
        cache.put(key, explanation)
    return ExplanationOut(
        prediction_id=prediction_id, model_name=model_name, model_checksum=checksum,
        method=explanation.method, method_label=explanation.method_label,
        signed=explanation.signed, target=explanation.target,
        target_label=explanation.target_label, target_unit=explanation.target_unit,
        target_value=explanation.target_value, baseline_value=explanation.baseline_value,
        completeness_gap=explanation.completeness_gap, start_s=explanation.start_s,
        fs_hz=explanation.fs_hz, scale=explanation.scale,
        leads=[LeadAttributionOut(lead=lead, values=values)
               for lead, values in explanation.leads.items()],
        median_beats=[MedianBeatAttributionOut(lead=lead, **beat)
                      for lead, beat in explanation.median_beats.items()],
        methods=[OptionOut(name=o.name, label=o.label) for o in service.method_options()],
        targets=[OptionOut(name=o.name, label=o.label) for o in service.target_options(bundle)],
        cached=cached, seconds=explanation.seconds,
    )
