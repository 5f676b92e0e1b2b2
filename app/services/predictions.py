"""Predictions and clinician interventions.

A prediction stores the model's output (with the task-head state) and the signal pipeline's
measurements. Its *current* state is never stored as a mutable row: it is the model output with
the intervention events replayed (latest override per concept; a revert removes it), recomputed
through the task head alone. Every edit is one new ``interventions`` row, chained into the
tamper-evident log, together with its audit event, in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.api.schemas import ConceptOut, PredictionOut, SuggestionOut, TaskRiskOut
from app.db.models import Intervention, Prediction, Record, User
from app.services import audit
from models.bundle import LoadedBundle
from models.concepts import REGISTRY, get_concept, is_concept
from models.ecg.measure import measure
from models.ecg.record import Ecg
from models.intervene import InterventionResult, intervene, suggest, validate_override
from models.nets.prediction import ModelPrediction
from models.tasks import get_task

#: Policy used for the "check next" hint on the record page.
SUGGESTION_POLICY = "expected_risk_change"


class PredictionNotFound(LookupError):
    """No prediction has this id (or its record was deleted)."""


class ModelMismatch(RuntimeError):
    """The prediction was made by another model bundle than the one loaded now."""


@dataclass(frozen=True)
class PredictionRun:
    """What one analysis of an ECG produced, ready to store."""

    model_output: dict[str, Any]
    measurements: dict[str, Any]
    risks: dict[str, float]
    latency_ms: float


def analyse(bundle: LoadedBundle, ecg: Ecg) -> PredictionRun:
    """Measure the concepts on the signal and run the model (blocking; call in the worker pool).

    Returns:
        The model output, the measurements and the risks, with the wall time in ms.
    """
    started = time.perf_counter()
    measurements = measure(ecg).to_dict()
    output = bundle.predict([ecg])[0]
    latency_ms = (time.perf_counter() - started) * 1000.0
    return PredictionRun(
        model_output=output.to_dict(),
        measurements=measurements,
        risks={task: risk.probability for task, risk in output.tasks.items()},
        latency_ms=latency_ms,
    )


def warm_up(bundle: LoadedBundle) -> float:
    """Analyse one synthetic 12-lead ECG at start-up, so that the first clinician's request does
    not pay for the lazily imported delineation libraries and first-call set-up (about 1 s on a
    CPU). Returns the wall time in ms."""
    from models.ecg.synth import SynthParams, generate

    started = time.perf_counter()
    analyse(bundle, generate(SynthParams(), np.random.default_rng(0)).ecg)
    return (time.perf_counter() - started) * 1000.0


def store_prediction(session: Session, bundle: LoadedBundle, record: Record, user: User,
                     run: PredictionRun) -> Prediction:
    """Insert the prediction, move the record to *predicted*, and audit it."""
    prediction = Prediction(
        record_id=record.id, created_by=user.id, created_at=audit.utc_now(),
        model_name=bundle.version, model_checksum=bundle.checksum, device=str(bundle.device),
        latency_ms=run.latency_ms, model_output=run.model_output,
        measurements=run.measurements, risks=run.risks,
    )
    session.add(prediction)
    if record.status == "new":
        record.status = "predicted"
    session.flush()
    audit.record_event(session, "prediction", user.id, record=record.public_id,
                       prediction=prediction.id, model=bundle.version)
    return prediction


def measured_concepts(measurements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stored measurements' concept entries (``value``, ``reason``…) by concept name."""
    return {entry["name"]: entry for entry in measurements.get("concepts", [])}


def get_prediction(session: Session, prediction_id: int) -> tuple[Prediction, Record]:
    """The prediction and its live record; :class:`PredictionNotFound` otherwise."""
    row = session.execute(
        select(Prediction, Record)
        .join(Record, Prediction.record_id == Record.id)
        .where(Prediction.id == prediction_id, Record.status != "deleted")
    ).one_or_none()
    if row is None:
        raise PredictionNotFound(prediction_id)
    return row.Prediction, row.Record


@dataclass(frozen=True)
class Override:
    """A concept value in force because a clinician set it."""

    value: float
    username: str


def current_overrides(session: Session, prediction: Prediction) -> dict[str, Override]:
    """The overrides in force: per concept, its latest event if that is an override.

    Replaying the whole event log gives the same answer; reading only each concept's latest
    event keeps an edit's cost flat however long the prediction's history grows.
    """
    latest = (
        select(func.max(Intervention.id))
        .where(Intervention.prediction_id == prediction.id)
        .group_by(Intervention.concept)
    )
    rows = session.execute(
        select(Intervention.concept, Intervention.action, Intervention.new_value, User.username)
        .join(User, Intervention.user_id == User.id)
        .where(Intervention.id.in_(latest))
    ).all()
    return {
        concept: Override(new_value, username)
        for concept, action, new_value, username in rows
        if action == "override" and new_value is not None
    }


def _model_prediction(bundle: LoadedBundle, prediction: Prediction) -> ModelPrediction:
    if prediction.model_checksum != bundle.checksum:
        raise ModelMismatch(
            f"this prediction was made by model {prediction.model_name}, but {bundle.version} is "
            "loaded now; run a new prediction to edit concepts"
        )
    return ModelPrediction.from_dict(prediction.model_output)


def _apply(bundle: LoadedBundle, model_prediction: ModelPrediction, record: Record,
           overrides: dict[str, float]) -> InterventionResult:
    return intervene(bundle, model_prediction, overrides, sex=record.sex,  # type: ignore[arg-type]
                     age=record.age_years)


def _in_force_value(name: str, result: InterventionResult, model_prediction: ModelPrediction,
                    overrides: dict[str, float]) -> float:
    """The value shown for a concept: the result's when overridden or re-derived, else the
    model's own (for binary findings the 0/1 call rather than the head's probability)."""
    if name in overrides or name in result.changed:
        return result.concepts[name]
    return model_prediction.concepts[name].value


def prediction_view(session: Session, bundle: LoadedBundle, prediction: Prediction,
                    record: Record) -> PredictionOut:
    """The prediction with every override applied: concepts, risks, contributions, suggestion."""
    model_prediction = ModelPrediction.from_dict(prediction.model_output)
    in_force = current_overrides(session, prediction)
    override_values = {c: o.value for c, o in in_force.items()}
    editable = prediction.model_checksum == bundle.checksum and bool(model_prediction.concepts)
    result = _apply(bundle, model_prediction, record, override_values) if editable else None
    measured = measured_concepts(prediction.measurements)
    concepts = []
    for concept in REGISTRY:
        estimate = model_prediction.concepts.get(concept.name)
        if result is not None:
            value = _in_force_value(concept.name, result, model_prediction, override_values)
        else:
            value = estimate.value if estimate else None
        measurement = measured.get(concept.name, {})
        flag = concept.flag(value, record.sex)  # type: ignore[arg-type]
        override = in_force.get(concept.name)
        concepts.append(ConceptOut(
            name=concept.name, label=concept.label, unit=concept.unit, kind=concept.kind.value,
            model_value=estimate.value if estimate else None,
            uncertainty=estimate.uncertainty if estimate else None,
            probability=estimate.probability if estimate else None,
            measured_value=measurement.get("value"),
            measured_reason=measurement.get("reason"),
            measured_low_confidence=measurement.get("low_confidence"),
            value=value, overridden=override is not None,
            overridden_by=override.username if override else None,
            normal_range=concept.normal_range_text(), decimals=concept.decimals,
            flag=flag.level.value, flag_note=flag.note,
        ))
    tasks = result.tasks if result is not None else model_prediction.tasks
    heads = bundle.task_heads if prediction.model_checksum == bundle.checksum else {}
    risks = [
        TaskRiskOut(task=name, label=get_task(name).label, probability=risk.probability,
                    band=risk.band.value, contributions=dict(risk.contributions),
                    learned_from=heads.get(name, {}).get("learned_from"))
        for name, risk in tasks.items()
    ]
    suggestion = None
    if editable:
        ranked = suggest(bundle, model_prediction, override_values,
                         policy=SUGGESTION_POLICY, sex=record.sex,  # type: ignore[arg-type]
                         age=record.age_years)
        if ranked:
            best = ranked[0]
            suggestion = SuggestionOut(
                concept=best.concept, label=get_concept(best.concept).label, score=best.score,
                expected_risk_change=best.expected_risk_change, reason=best.reason_text)
    return PredictionOut(
        id=prediction.id, record_id=record.public_id, created_at=prediction.created_at,
        model_name=prediction.model_name, model_checksum=prediction.model_checksum,
        device=prediction.device, latency_ms=prediction.latency_ms, concepts=concepts,
        risks=risks, suggestion=suggestion,
        fiducials={k: v for k, v in prediction.measurements.items() if k != "concepts"},
    )


def record_intervention(
    session: Session,
    bundle: LoadedBundle,
    prediction: Prediction,
    record: Record,
    user: User,
    concept: str,
    action: Literal["override", "revert"],
    value: float | None = None,
    source: str = "typed",
    comment: str | None = None,
) -> Intervention:
    """Apply an override (or revert) and store it with risks before/after, chained and audited.

    Raises:
        ModelMismatch: the prediction was made by another bundle.
        ValueError: unknown concept, implausible value, or nothing to revert.
    """
    model_prediction = _model_prediction(bundle, prediction)
    if not model_prediction.concepts:
        raise ValueError(f"model {prediction.model_name} has no concepts to override")
    if not is_concept(concept):
        raise ValueError(f"unknown concept {concept!r}")
    concept_meta = get_concept(concept)
    in_force = {c: o.value for c, o in current_overrides(session, prediction).items()}
    before = _apply(bundle, model_prediction, record, in_force)
    previous_value = _in_force_value(concept, before, model_prediction, in_force)
    after_overrides = dict(in_force)
    if action == "override":
        after_overrides[concept] = validate_override(concept, value)  # type: ignore[arg-type]
    elif concept not in in_force:
        raise ValueError(f"{concept_meta.label} is not overridden; nothing to revert")
    else:
        del after_overrides[concept]
    after = _apply(bundle, model_prediction, record, after_overrides)
    event = Intervention(
        prediction_id=prediction.id, user_id=user.id, created_at=audit.utc_now(),
        action=action, concept=concept, unit=concept_meta.unit,
        model_value=model_prediction.concepts[concept].value,
        previous_value=previous_value,
        new_value=_in_force_value(concept, after, model_prediction, after_overrides),
        risks_before={t: r.probability for t, r in before.tasks.items()},
        risks_after={t: r.probability for t, r in after.tasks.items()},
        source=source, comment=comment,
    )
    audit.append(session, event)
    audit.record_event(session, "intervention", user.id, record=record.public_id,
                       prediction=prediction.id, intervention=event.id, action=action,
                       concept=concept)
    return event
