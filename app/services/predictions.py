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

from app.api.schemas import ConceptOut, PredictionOut, SeriesViewOut, SuggestionOut, TaskRiskOut
from app.db.models import Intervention, Prediction, Record, User
from app.services import audit
from app.services import fiducials as fiducial_marks
from app.services.changes import change_risk, change_suggestion, changes_out
from app.services.records import ensure_editable, latest_prediction
from app.services.series import series_baseline
from app.services.users import shown_name
from models.bundle import LoadedBundle
from models.concepts import REGISTRY, get_concept, is_concept
from models.disagreement import disagreements
from models.heads.describe import read_risk
from models.ecg.record import Ecg
from models.intervene import InterventionResult, intervene, suggest, validate_override
from models.nets.prediction import ModelPrediction
from models.scoring import analyse_ecg
from models.tasks import get_task

#: Policy used for the "check next" hint on the record page.
SUGGESTION_POLICY = "expected_risk_change"

#: The pseudo-concept of a fiducial move: one event that sets every interval concept the moved
#: median-beat fiducials define (see :mod:`app.services.fiducials`).
FIDUCIALS = "fiducials"


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


def analyse(bundle: LoadedBundle, ecg: Ecg,
            measurements: dict[str, Any] | None = None) -> PredictionRun:
    """Run the model on the signal, measuring the concepts first unless ``measurements`` (from
    :func:`app.isolation.measure_concepts`, run by the API in a capped worker process) are
    given (blocking; call in the worker pool).

    Returns:
        The model output, the measurements and the risks, with the wall time in ms.
    """
    if measurements is None:
        analysis = analyse_ecg(bundle, ecg)
        prediction, measurements = analysis.prediction, analysis.measurements.to_dict()
        latency_ms = analysis.latency_ms
    else:
        started = time.perf_counter()
        prediction = bundle.predict([ecg])[0]
        latency_ms = (time.perf_counter() - started) * 1000.0
    return PredictionRun(
        model_output=prediction.to_dict(),
        measurements=measurements,
        risks={task: risk.probability for task, risk in prediction.tasks.items()},
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
    """Insert the prediction, move the record to *predicted*, and audit it.

    Raises:
        RecordLocked: the record is reviewed (reopen it first).
    """
    ensure_editable(record)
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


def measured_values(measurements: dict[str, Any]) -> dict[str, float | None]:
    """The stored measurements' concept values (registry units; ``None`` = not measured)."""
    return {name: entry.get("value") for name, entry in measured_concepts(measurements).items()}


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
    pseudonym: str


def current_overrides(session: Session, prediction: Prediction,
                      with_fiducials: bool = True) -> dict[str, Override]:
    """The overrides in force: per concept, its latest event if that is an override; a concept
    the latest fiducial move defines takes the move's value unless its own latest event is newer
    (``with_fiducials=False``: what is in force once the fiducial move is reverted).

    Replaying the whole event log gives the same answer; reading only each concept's latest
    event keeps an edit's cost flat however long the prediction's history grows.
    """
    latest = (
        select(func.max(Intervention.id))
        .where(Intervention.prediction_id == prediction.id)
        .group_by(Intervention.concept)
    )
    rows = session.execute(
        select(Intervention.id, Intervention.concept, Intervention.action, Intervention.new_value,
               Intervention.fiducials, User.username, User.pseudonym)
        .join(User, Intervention.user_id == User.id)
        .where(Intervention.id.in_(latest))
    ).all()
    overrides = {
        row.concept: Override(row.new_value, row.username, row.pseudonym)
        for row in rows
        if row.action == "override" and row.new_value is not None and row.concept != FIDUCIALS
    }
    latest_ids = {row.concept: row.id for row in rows}
    for row in rows:
        if with_fiducials and row.concept == FIDUCIALS and row.action == "override":
            for concept, value in row.fiducials["concepts"].items():
                if latest_ids.get(concept, 0) < row.id:
                    overrides[concept] = Override(value, row.username, row.pseudonym)
    return overrides


def fiducials_in_force(session: Session, prediction: Prediction) -> dict[str, float | None]:
    """The median-beat fiducial positions in force (ms from R): the latest fiducial move's, or
    the measured ones when none is in force."""
    event = session.execute(
        select(Intervention.action, Intervention.fiducials)
        .where(Intervention.prediction_id == prediction.id, Intervention.concept == FIDUCIALS)
        .order_by(Intervention.id.desc()).limit(1)
    ).one_or_none()
    if event is not None and event.action == "override":
        return dict(event.fiducials["after"])
    return fiducial_marks.measured_positions(prediction.measurements)


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


def _values_in_force(result: InterventionResult, model_prediction: ModelPrediction,
                     overrides: dict[str, float]) -> dict[str, float]:
    """Every concept's value in force (see :func:`_in_force_value`)."""
    return {c.name: _in_force_value(c.name, result, model_prediction, overrides) for c in REGISTRY}


@dataclass(frozen=True)
class SeriesState:
    """A record's series context: what the page shows, and the baseline's values in force
    (``None`` when no change can be computed — see ``view.note``)."""

    view: SeriesViewOut
    baseline_values: dict[str, float] | None


def series_state(session: Session, bundle: LoadedBundle, record: Record) -> SeriesState | None:
    """The series context of ``record`` (``None`` outside a series): its baseline ECG's latest
    prediction with that ECG's own overrides applied, by the loaded bundle."""
    if record.series_id is None:
        return None
    baseline = series_baseline(session, record)
    if baseline is None:
        note = ("this is the series' baseline ECG" if record.is_baseline
                else "the series has no baseline ECG yet")
        return SeriesState(SeriesViewOut(series_id=record.series_id, baseline_record_id=None,
                                         baseline_prediction_id=None, note=note), None)
    base = latest_prediction(session, baseline)
    values, note = None, None
    if base is None:
        note = "the baseline ECG has not been analysed yet: open it to analyse it"
    elif base.model_checksum != bundle.checksum:
        note = "the baseline ECG was analysed by another model: analyse it again"
    else:
        model_prediction = ModelPrediction.from_dict(base.model_output)
        overrides = {c: o.value for c, o in current_overrides(session, base).items()}
        values = _values_in_force(_apply(bundle, model_prediction, baseline, overrides),
                                  model_prediction, overrides)
    view = SeriesViewOut(
        series_id=record.series_id, baseline_record_id=baseline.public_id,
        baseline_prediction_id=base.id if base else None, note=note,
        baseline_median_beats=base.measurements.get("median_beats") if base else None,
    )
    return SeriesState(view, values)


def _risk_values(bundle: LoadedBundle, result: InterventionResult,
                 model_prediction: ModelPrediction, overrides: dict[str, float], record: Record,
                 series: SeriesState | None) -> dict[str, float]:
    """Each task's probability in force: the change-based TdP risk where a baseline gives one."""
    risks = {task: risk.probability for task, risk in result.tasks.items()}
    if series is not None and series.baseline_values is not None:
        current = _values_in_force(result, model_prediction, overrides)
        changed = change_risk(bundle, current, series.baseline_values,
                              record.sex, record.age_years)  # type: ignore[arg-type]
        if changed is not None:
            risks[changed.task] = changed.probability
    return risks


def prediction_view(session: Session, bundle: LoadedBundle, prediction: Prediction,
                    record: Record, viewer: User) -> PredictionOut:
    """The prediction with every override applied: concepts, risks, contributions, suggestion
    (who overrode a concept named as ``viewer`` may see it: a pseudonym for researchers)."""
    model_prediction = ModelPrediction.from_dict(prediction.model_output)
    in_force = current_overrides(session, prediction)
    override_values = {c: o.value for c, o in in_force.items()}
    editable = prediction.model_checksum == bundle.checksum and bool(model_prediction.concepts)
    result = _apply(bundle, model_prediction, record, override_values) if editable else None
    measured = measured_concepts(prediction.measurements)
    discordant = disagreements(
        model_prediction.concepts, measured_values(prediction.measurements)
    )
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
            value=value, overridden=override is not None,
            overridden_by=(shown_name(viewer, override.username, override.pseudonym)
                           if override else None),
            normal_range=concept.normal_range_text(), decimals=concept.decimals,
            flag=flag.level.value, flag_note=flag.note,
            disagreement=discordant[concept.name].text if concept.name in discordant else None,
        ))
    tasks = result.tasks if result is not None else model_prediction.tasks
    same_model = prediction.model_checksum == bundle.checksum
    heads = bundle.task_heads if same_model else {}
    series = series_state(session, bundle, record) if result is not None else None
    changes, changed_risk, suggestion = [], None, None
    if series is not None and series.baseline_values is not None and result is not None:
        current = _values_in_force(result, model_prediction, override_values)
        changes = changes_out(current, series.baseline_values)
        sex, age = record.sex, record.age_years
        changed_risk = change_risk(
            bundle, current, series.baseline_values, sex, age  # type: ignore[arg-type]
        )
        suggestion = change_suggestion(
            bundle, current, series.baseline_values, sex, age,  # type: ignore[arg-type]
            set(override_values),
        )
    risks = []
    for name, risk in tasks.items():
        if changed_risk is not None and changed_risk.task == name:
            risks.append(changed_risk)
            continue
        reading = read_risk(bundle.card, name, risk) if same_model else None
        risks.append(TaskRiskOut(
            task=name, label=get_task(name).label, probability=risk.probability,
            band=risk.band.value, contributions=dict(risk.contributions),
            learned_from=heads.get(name, {}).get("learned_from"),
            head=reading.head if reading else None,
            head_kind=reading.kind if reading else None,
            meaning=reading.sentence if reading else None,
            points=reading.points if reading else None,
            max_points=reading.max_points if reading else None,
        ))
    if editable and suggestion is None:
        ranked = suggest(bundle, model_prediction, override_values,
                         policy=SUGGESTION_POLICY, sex=record.sex,  # type: ignore[arg-type]
                         age=record.age_years,
                         measured=measured_values(prediction.measurements))
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
        fiducials=_plotted_fiducials(session, prediction),
        series=series.view if series is not None else None, changes=changes,
    )


def _plotted_fiducials(session: Session, prediction: Prediction) -> dict[str, Any]:
    """The stored delineation for plotting (seconds, mV), with ``fiducials_in_force``: the
    median-beat positions in force (seconds from R) and whether a clinician moved them."""
    plotted = {k: v for k, v in prediction.measurements.items() if k != "concepts"}
    positions = fiducials_in_force(session, prediction)
    plotted["fiducials_in_force"] = {
        "moved": positions != fiducial_marks.measured_positions(prediction.measurements),
        **{f"{name}_s": None if ms is None else ms / 1000.0 for name, ms in positions.items()},
    }
    return plotted


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

    The pseudo-concept :data:`FIDUCIALS` can only be reverted here (moves go through
    :func:`move_fiducials`): that reverts every concept the fiducial move in force set.

    Raises:
        ModelMismatch: the prediction was made by another bundle.
        ValueError: unknown concept, implausible value, or nothing to revert.
        RecordLocked: the record is reviewed (reopen it first).
    """
    model_prediction = _editable_prediction(bundle, prediction, record)
    if not is_concept(concept) and concept != FIDUCIALS:
        raise ValueError(f"unknown concept {concept!r}")
    # The history this event extends is read inside the chain lock: read before it, two
    # concurrent edits would both log the same predecessor (issue 18, finding 7).
    audit.lock_chain(session, Intervention)
    in_force = current_overrides(session, prediction)
    after_overrides = {c: o.value for c, o in in_force.items()}
    if concept == FIDUCIALS:
        if action == "override":
            raise ValueError("fiducials are moved with POST /predictions/{id}/fiducials")
        if fiducials_in_force(session, prediction) == fiducial_marks.measured_positions(
                prediction.measurements):
            raise ValueError("no fiducial is moved; nothing to revert")
        after_overrides = {c: o.value for c, o in current_overrides(
            session, prediction, with_fiducials=False).items()}
    elif action == "override":
        after_overrides[concept] = validate_override(concept, value)  # type: ignore[arg-type]
    elif concept not in in_force:
        raise ValueError(f"{get_concept(concept).label} is not overridden; nothing to revert")
    else:
        del after_overrides[concept]
    return _log_change(session, bundle, prediction, record, user, model_prediction,
                       {c: o.value for c, o in in_force.items()}, after_overrides,
                       Intervention(action=action, concept=concept, source=source,
                                    comment=comment))


def move_fiducials(session: Session, bundle: LoadedBundle, prediction: Prediction,
                   record: Record, user: User, moves_ms: dict[str, float],
                   comment: str | None = None) -> Intervention:
    """Move median-beat fiducials: ONE ``fiducial`` event that overrides every interval concept
    the positions in force define (where they differ from the measured ones), through the same
    path as a typed override, with the positions before and after (ms from R) logged.

    Raises:
        ModelMismatch: the prediction was made by another bundle.
        FiducialError: no median beat, a position outside it, or out of order.
        ValueError: nothing moved, or a defined interval the registry finds implausible.
        RecordLocked: the record is reviewed (reopen it first).
    """
    model_prediction = _editable_prediction(bundle, prediction, record)
    audit.lock_chain(session, Intervention)
    in_force = current_overrides(session, prediction)
    measured = fiducial_marks.measured_positions(prediction.measurements)
    before = fiducials_in_force(session, prediction)
    after = fiducial_marks.moved_positions(
        before, moves_ms, fiducial_marks.beat_window_ms(prediction.measurements))
    if after == before:
        raise ValueError("the fiducials are already there; nothing moved")
    concepts = {name: validate_override(name, value) for name, value
                in fiducial_marks.defined_concepts(measured, after).items()}
    after_overrides = {c: o.value for c, o in current_overrides(
        session, prediction, with_fiducials=False).items()}
    after_overrides.update(concepts)
    return _log_change(session, bundle, prediction, record, user, model_prediction,
                       {c: o.value for c, o in in_force.items()}, after_overrides,
                       Intervention(action="override", concept=FIDUCIALS, source="fiducial",
                                    comment=comment,
                                    fiducials={"before": before, "after": after,
                                               "concepts": concepts}))


def _editable_prediction(bundle: LoadedBundle, prediction: Prediction,
                         record: Record) -> ModelPrediction:
    """The stored model output, when its record and model allow an edit.

    Raises:
        RecordLocked: the record is reviewed. ModelMismatch: another bundle made it.
        ValueError: the model has no concepts.
    """
    ensure_editable(record)
    model_prediction = _model_prediction(bundle, prediction)
    if not model_prediction.concepts:
        raise ValueError(f"model {prediction.model_name} has no concepts to override")
    return model_prediction


def _log_change(session: Session, bundle: LoadedBundle, prediction: Prediction, record: Record,
                user: User, model_prediction: ModelPrediction, in_force: dict[str, float],
                after_overrides: dict[str, float], event: Intervention) -> Intervention:
    """Fill ``event`` (action, concept, source set) with the values and risks before/after the
    overrides change from ``in_force`` to ``after_overrides``, chain it and audit it."""
    concept = event.concept
    before = _apply(bundle, model_prediction, record, in_force)
    after = _apply(bundle, model_prediction, record, after_overrides)
    series = series_state(session, bundle, record)
    if is_concept(concept):
        event.unit = get_concept(concept).unit
        event.model_value = model_prediction.concepts[concept].value
        event.previous_value = _in_force_value(concept, before, model_prediction, in_force)
        event.new_value = _in_force_value(concept, after, model_prediction, after_overrides)
    else:
        event.unit = "ms"
    event.prediction_id, event.user_id, event.created_at = (
        prediction.id, user.id, audit.utc_now())
    event.risks_before = _risk_values(bundle, before, model_prediction, in_force, record, series)
    event.risks_after = _risk_values(bundle, after, model_prediction, after_overrides, record,
                                     series)
    audit.append(session, event)
    action = event.action
    audit.record_event(session, "intervention", user.id, record=record.public_id,
                       prediction=prediction.id, intervention=event.id, action=action,
                       concept=concept)
    return event
