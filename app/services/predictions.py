"""Predictions and clinician interventions.

A prediction stores the model's output (with the task-head state) and the signal pipeline's
measurements. Its *current* state is never stored as a mutable row: it is the model output with
the intervention events replayed (latest override per concept; a revert removes it), recomputed
through the task head alone. Every edit is one new ``interventions`` row, chained into the
tamper-evident log, together with its audit event, in one transaction.

A request loads a prediction once as a :class:`PredictionState` (one query for the overrides in
force, one parse of the stored output, one bundle checksum check, one head pass), which then
serves the record view, an edit's before and after, the suggestion and the worklist headline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Intervention, Prediction, Record, User
from app.db.session import DATABASE, WRITES, on_commit
from app.services import audit
from app.services import fiducials as fiducial_marks
from app.services import records as record_queries
from app.services.changes import CHANGE_TASK, change_risk, change_suggestion, changes_out
from app.services.records import ensure_editable
from app.services.schemas import (
    ConceptOut,
    InterventionOut,
    MeasurementNoteOut,
    OodOut,
    PredictionOut,
    RecordOut,
    SeriesViewOut,
    SuggestionOut,
    TaskRiskOut,
)
from app.services.series import series_baseline
from app.services.users import shown_comment, shown_name
from models.bundle import LoadedBundle
from models.concepts import (
    DEFAULT_QTC,
    REGISTRY,
    get_concept,
    is_concept,
    rederive,
    typed_target,
    with_typed_value,
)
from models.disagreement import Disagreement, disagreements
from models.ecg.measure import stored_concepts
from models.ecg.notes import found_paced, measurement_notes
from models.ecg.record import Ecg, Sex
from models.heads.describe import read_risk
from models.intervene import (
    CHECK_NEXT_POLICY,
    HeadBatch,
    InterventionResult,
    Policy,
    Suggestion,
    apply_overrides,
    head_batch,
    points_heads,
    rank_checks,
    recompute,
    validate_override,
)
from models.nets.model import ConceptModel
from models.nets.ood import describe_score
from models.nets.prediction import ModelPrediction, OodScore, TaskRisk
from models.scoring import analyse_ecg, first_checks
from models.tasks import get_task, task_names

#: The pseudo-concept of a fiducial move: one event that sets every interval concept the moved
#: median-beat fiducials define (see :mod:`app.services.fiducials`).
FIDUCIALS = "fiducials"


class PredictionNotFound(LookupError):
    """No prediction has this id (or its record was deleted)."""


class ModelMismatch(RuntimeError):
    """The prediction was made by another model bundle than the one loaded now."""


@dataclass(frozen=True)
class PredictionRun:
    """What one analysis of an ECG produced, ready to store (``check_next``: per task, the
    concept to check first before any override, :func:`models.scoring.first_checks`)."""

    model_output: dict[str, Any]
    measurements: dict[str, Any]
    latency_ms: float
    check_next: dict[str, list[Suggestion]]

    @property
    def risks(self) -> dict[str, float]:
        """Each task's probability, as the model output states it."""
        return {task: risk["probability"] for task, risk in self.model_output["tasks"].items()}


def analyse(bundle: LoadedBundle, ecg: Ecg,
            measurements: dict[str, Any] | None = None) -> PredictionRun:
    """Run the model on the signal, measuring the concepts first unless ``measurements`` (from
    :func:`app.isolation.measure_concepts`, run by the API in a capped worker process) are
    given (blocking; call in the worker pool).

    Returns:
        The model output, the measurements, the risks and what to check first, with the wall
        time in ms.
    """
    if measurements is None:
        analysis = analyse_ecg(bundle, ecg)
        prediction, measurements = analysis.prediction, analysis.measurements.to_dict()
        latency_ms = analysis.latency_ms
    else:
        started = time.perf_counter()
        prediction = bundle.predict([ecg])[0]
        latency_ms = (time.perf_counter() - started) * 1000.0
    return PredictionRun(model_output=prediction.to_dict(), measurements=measurements,
                         latency_ms=latency_ms,
                         check_next=first_checks(bundle, ecg, prediction,
                                                 measured_values(measurements)))


def worker_run(bundle: LoadedBundle, analysed: dict[str, Any]) -> PredictionRun:
    """The run of :func:`app.isolation.analyse_concepts` (a worker process measured the ECG and
    ran its own copy of the bundle), ready to store; ``latency_ms`` is left to the caller.

    Raises:
        ModelMismatch: the worker's bundle is not the one this process serves (the bundle file
            changed on disk after start-up).
    """
    if analysed["model_checksum"] != bundle.checksum:
        raise ModelMismatch("the worker processes run another model bundle than the API "
                            "process; restart the server")
    return PredictionRun(model_output=analysed["model_output"],
                         measurements=analysed["measurements"], latency_ms=0.0,
                         check_next=analysed["check_next"])


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


def measured_values(measurements: dict[str, Any]) -> dict[str, float | None]:
    """The stored measurements' concept values (registry units; ``None`` = not measured)."""
    return {name: entry.get("value") for name, entry in stored_concepts(measurements).items()}


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


def overrides_in_force(
    session: Session, prediction_ids: Sequence[int], with_fiducials: bool = True
) -> dict[int, dict[str, Override]]:
    """Per prediction, the overrides in force: per concept, its latest event if that is an
    override, in the order they were set; a concept the latest fiducial move defines takes the
    move's value unless its own latest event is newer (``with_fiducials=False``: what is in
    force once the fiducial move is reverted). One query however many predictions.

    Replaying the whole event log gives the same answer; reading only each concept's latest
    event keeps an edit's cost flat however long the prediction's history grows.
    """
    return _overrides_of(latest_events(session, prediction_ids), prediction_ids, with_fiducials)


def latest_events(session: Session, prediction_ids: Sequence[int]) -> Sequence[Any]:
    """Each concept's latest intervention event on ``prediction_ids`` (the pseudo-concept
    :data:`FIDUCIALS` included), oldest first, with its author's names: one query."""
    if not prediction_ids:
        return []
    latest = (
        select(func.max(Intervention.id))
        .where(Intervention.prediction_id.in_(prediction_ids))
        .group_by(Intervention.prediction_id, Intervention.concept)
    )
    return session.execute(
        select(Intervention.id, Intervention.prediction_id, Intervention.concept,
               Intervention.action, Intervention.new_value, Intervention.fiducials,
               User.username, User.pseudonym)
        .join(User, Intervention.user_id == User.id)
        .where(Intervention.id.in_(latest))
        .order_by(Intervention.id)
    ).all()


def _overrides_of(rows: Sequence[Any], prediction_ids: Sequence[int],
                  with_fiducials: bool) -> dict[int, dict[str, Override]]:
    """:func:`overrides_in_force` from the latest events (:func:`latest_events`)."""
    latest_ids = {(row.prediction_id, row.concept): row.id for row in rows}
    found: dict[int, dict[str, Override]] = {pid: {} for pid in prediction_ids}
    for row in rows:
        if row.concept != FIDUCIALS:
            if row.action == "override" and row.new_value is not None:
                found[row.prediction_id][row.concept] = Override(row.new_value, row.username,
                                                                 row.pseudonym)
        elif with_fiducials and row.action == "override":
            for concept, value in row.fiducials["concepts"].items():
                if latest_ids.get((row.prediction_id, concept), 0) < row.id:
                    found[row.prediction_id][concept] = Override(value, row.username,
                                                                 row.pseudonym)
    return found


def _fiducials_of(rows: Sequence[Any], prediction: Prediction) -> dict[str, float | None]:
    """The median-beat fiducial positions in force (ms from R) given the latest events
    (:func:`latest_events`): the latest fiducial move's, or the measured ones when none is in
    force."""
    for row in rows:
        if row.prediction_id == prediction.id and row.concept == FIDUCIALS:
            if row.action == "override":
                return dict(row.fiducials["after"])
            break
    return fiducial_marks.measured_positions(prediction.measurements)


def values_in_force(model_values: Mapping[str, float | None], overrides: Mapping[str, float],
                    sex: Sex | None) -> dict[str, float | None]:
    """Every concept's value in force (registry units): the model's primary values with the
    clinician's overrides (primary concepts: a typed QTc is stored as the QT it set) put in,
    every derived concept re-derived from them with the registry's formulas
    (:func:`models.concepts.rederive`); with no override, the model's values as they are. The
    record page, the worklist and the predictions export all read this, so a QTc shown, flagged
    and exported is the one its QT and RR give."""
    if not overrides:
        return dict(model_values)
    primaries = {name: value for name, value in model_values.items()
                 if is_concept(name) and not get_concept(name).is_derived}
    return rederive({**primaries, **overrides}, sex)


@dataclass(frozen=True)
class PredictionState:
    """One prediction as it stands, loaded once per request and shared by the record view, an
    edit's before and after, the "check next" suggestion and the worklist headline.

    Built by :func:`load_state`: the stored prediction parsed once, the overrides in force read
    in one query, the bundle checksum compared once, and — when anything is overridden — one
    pass of the task head (:func:`models.intervene.recompute`).

    Attributes:
        record, prediction: the rows.
        model_prediction: the stored model output, parsed.
        overrides: concept → override in force (primary concepts; a typed QTc is stored as the
            QT it set), oldest first.
        bundle: the loaded model bundle.
        model, base: the head model and the prediction's head batch without overrides, when the
            prediction is editable (made by the loaded bundle, with concepts); else ``None``.
        batch: ``base`` with the overrides in force.
        result: the head pass over ``batch`` (``None`` when nothing is overridden or not
            editable: the stored output is then what is in force).
        discordant: concepts whose model and measured values disagree (most discordant first).
        series: the record's series context (its baseline's values in force), when loaded
            (:func:`prediction_state`, :func:`latest_states`) and the record is in a series.
        fiducials: the median-beat fiducial positions in force (ms from R), when loaded
            (:func:`prediction_state`).
        version: the audit head it was read at (:func:`app.services.audit.version`), when
            loaded by :func:`prediction_state`.
    """

    record: Record
    prediction: Prediction
    model_prediction: ModelPrediction
    overrides: dict[str, Override]
    bundle: LoadedBundle
    model: ConceptModel | None
    base: HeadBatch | None
    batch: HeadBatch | None
    result: InterventionResult | None
    discordant: dict[str, Disagreement]
    series: SeriesState | None = None
    fiducials: dict[str, float | None] | None = None
    version: tuple[int, str] | None = None

    @property
    def editable(self) -> bool:
        """Concepts can be overridden: the loaded bundle made it, and it has concepts."""
        return self.model is not None

    @property
    def adjusted(self) -> bool:
        """A clinician value is in force."""
        return bool(self.overrides)

    @property
    def override_values(self) -> dict[str, float]:
        """Concept → value of the overrides in force."""
        return {name: o.value for name, o in self.overrides.items()}

    @property
    def tasks(self) -> dict[str, TaskRisk]:
        """Per task, the risk in force."""
        return self.result.tasks if self.result is not None else self.model_prediction.tasks

    @cached_property
    def _in_force(self) -> dict[str, float | None]:
        """:func:`values_in_force` of this prediction (computed once)."""
        model_values = {name: estimate.value
                        for name, estimate in self.model_prediction.concepts.items()}
        return values_in_force(model_values, self.override_values,
                               self.record.sex)  # type: ignore[arg-type]

    def value(self, name: str) -> float | None:
        """The value of concept ``name`` in force: the model's unless an override (or a value
        derived from one) moved it (:func:`values_in_force`); a binary finding not set keeps
        the model's 0/1 call."""
        return self._in_force.get(name)

    def values(self) -> dict[str, float | None]:
        """Every concept's value in force (:meth:`value`)."""
        return {c.name: self.value(c.name) for c in REGISTRY}

    def change(self) -> tuple[list[Any], TaskRiskOut | None]:
        """The change concepts against the series' baseline and the change-based risk (empty
        and ``None`` outside a series or without a usable baseline)."""
        if self.series is None or self.series.baseline_values is None:
            return [], None
        current = self.values()
        risk = change_risk(self.bundle, current, self.series.baseline_values, self.record.sex,
                           self.record.age_years)  # type: ignore[arg-type]
        return changes_out(current, self.series.baseline_values), risk

    def risk_values(self) -> dict[str, float]:
        """Each task's probability in force: the change-based TdP risk where a baseline gives
        one (what an intervention event logs before and after)."""
        risks = {task: risk.probability for task, risk in self.tasks.items()}
        changed = self.change()[1]
        if changed is not None:
            risks[changed.task] = changed.probability
        return risks

    def with_overrides(self, overrides: dict[str, Override]) -> PredictionState:
        """This prediction with ``overrides`` in force instead (one head pass).

        Raises:
            ModelMismatch: not editable.
            ValueError: an invalid override (:func:`models.intervene.apply_overrides`).
        """
        if self.model is None or self.base is None:
            raise ModelMismatch(
                f"this prediction was made by model {self.prediction.model_name}, which is not "
                "the one loaded now (or has no concepts); run a new prediction to edit concepts"
            )
        values = {name: o.value for name, o in overrides.items()}
        batch, clean = apply_overrides(self.model, self.base, values)
        result = (recompute(self.bundle, self.model, batch, self.model_prediction, clean)
                  if clean else None)
        return replace(self, overrides=dict(overrides), batch=batch, result=result)


def load_state(
    bundle: LoadedBundle,
    prediction: Prediction,
    record: Record,
    overrides: dict[str, Override],
) -> PredictionState:
    """The :class:`PredictionState` of a prediction whose overrides in force were read."""
    model_prediction = ModelPrediction.from_dict(prediction.model_output)
    discordant = disagreements(model_prediction.concepts,
                               measured_values(prediction.measurements))
    empty = PredictionState(record, prediction, model_prediction, {}, bundle, None, None, None,
                            None, discordant)
    if prediction.model_checksum != bundle.checksum or not model_prediction.concepts:
        return replace(empty, overrides=overrides)
    model, base = head_batch(bundle, model_prediction, sex=record.sex,  # type: ignore[arg-type]
                             age_years=record.age_years)
    return replace(empty, model=model, base=base).with_overrides(overrides)


@dataclass(frozen=True)
class SeriesState:
    """A record's series context: what the page shows, and the baseline's values in force
    (``None`` when no change can be computed — see ``view.note``)."""

    view: SeriesViewOut
    baseline_values: dict[str, float | None] | None


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
    base = record_queries.latest_prediction(session, baseline)
    values, note = None, None
    if base is None:
        note = "the baseline ECG has not been analysed yet: open it to analyse it"
    elif base.model_checksum != bundle.checksum:
        note = "the baseline ECG was analysed by another model: analyse it again"
    else:
        overrides = overrides_in_force(session, [base.id])[base.id]
        values = load_state(bundle, base, baseline, overrides).values()
    view = SeriesViewOut(
        series_id=record.series_id, baseline_record_id=baseline.public_id,
        baseline_prediction_id=base.id if base else None, note=note,
        baseline_median_beats=base.measurements.get("median_beats") if base else None,
    )
    return SeriesState(view, values)


def with_series(session: Session, state: PredictionState) -> PredictionState:
    """``state`` with its record's series context (unchanged outside a series or when the
    loaded bundle did not make the prediction)."""
    if state.record.series_id is None or not state.editable:
        return state
    return replace(state, series=series_state(session, state.bundle, state.record))


def prediction_state(session: Session, bundle: LoadedBundle, prediction_id: int) -> PredictionState:
    """The prediction ``prediction_id`` as it stands (:class:`PredictionNotFound` otherwise).

    Read once per database content: the state is kept in memory with the audit head it was read
    at (:func:`app.services.audit.version`, one query) and served again while the head is the
    same — an edit keeps the state after it, so the next edit starts from memory. Its rows are
    then detached: read their loaded columns, never a relationship.

    Before an edit, take the intervention chain lock first (:func:`edit_prediction` does): the
    overrides in force are the history the new event extends (issue 18, finding 7).
    """
    version = audit.version(session)
    database = session.info.get(DATABASE)
    kept = database.states.get((bundle.checksum, prediction_id)) if database else None
    if kept is not None and kept[0] == version:
        return kept[1]  # type: ignore[no-any-return]
    prediction, record = get_prediction(session, prediction_id)
    events = latest_events(session, [prediction.id])  # one query: overrides and fiducials
    overrides = _overrides_of(events, [prediction.id], with_fiducials=True)[prediction.id]
    state = with_series(session, load_state(bundle, prediction, record, overrides))
    state = replace(state, fiducials=_fiducials_of(events, prediction), version=version)
    _remember(session, state)
    return state


def _remember(session: Session, state: PredictionState) -> None:
    """Keep ``state``, as it stands at audit head ``state.version``, in the database's state
    cache: at once after a read; in a write transaction only once it commits (a rollback
    expires the rows it loaded, and its head never comes to be)."""
    database = session.info.get(DATABASE)
    if database is None or state.version is None:
        return
    entry = ((state.bundle.checksum, state.prediction.id), (state.version, state))
    if session.info.get(WRITES):
        on_commit(session, "prediction states", entry, _keep_states)
    else:
        database.states.put(*entry)


def _keep_states(session: Session, entries: list[tuple[Any, Any]]) -> None:
    """Put the states a committed write transaction kept into its database's state cache."""
    for key, value in entries:
        session.info[DATABASE].states.put(key, value)


def latest_states(
    session: Session, bundle: LoadedBundle, records: Sequence[Record]
) -> dict[int, PredictionState]:
    """Record id → the state of its newest prediction (records without one are left out); two
    queries for the whole page, one head pass per adjusted record."""
    latest = {p.record_id: p for p in record_queries.latest_predictions(session, records)}
    in_force = overrides_in_force(session, [p.id for p in latest.values()])
    by_id = {r.id: r for r in records}
    return {
        record_id: with_series(session, load_state(bundle, prediction, by_id[record_id],
                                                   in_force[prediction.id]))
        for record_id, prediction in latest.items()
    }


def _risk_out(state: PredictionState, name: str, risk: TaskRisk) -> TaskRiskOut:
    """A risk in force with what the bundle's card says of its head (when the loaded bundle made
    the prediction)."""
    heads = state.bundle.task_heads if state.editable else {}
    reading = (read_risk(state.bundle.card, name, risk, state.value("heart_rate"))
               if state.editable else None)
    return TaskRiskOut(
        task=name, label=get_task(name).label, probability=risk.probability,
        band=risk.band.value, contributions=dict(risk.contributions),
        learned_from=heads.get(name, {}).get("learned_from"),
        head=reading.head if reading else None,
        head_kind=reading.kind if reading else None,
        meaning=reading.sentence if reading else None,
        points=reading.points if reading else None,
        max_points=reading.max_points if reading else None,
        band_cutoffs=reading.band_cutoffs if reading else None,
    )


def suggestions(state: PredictionState, policy: Policy = CHECK_NEXT_POLICY,
                tasks: Sequence[str] = task_names(), seed: int = 0, limit: int | None = None
                ) -> dict[str, list[SuggestionOut]]:
    """Per task, what to check next on this record, best first (the best ``limit`` when given;
    empty when not editable): one batched pass of risk changes serves every task."""
    if state.model is None or state.batch is None:
        return {task: [] for task in tasks}
    return suggestions_out(rank_checks(
        state.model, state.batch, tasks, policy, leads=state.record.lead_names, seed=seed,
        discordant=state.discordant, points=points_heads(state.bundle), limit=limit))


def suggestions_out(ranked: Mapping[str, Sequence[Suggestion]]) -> dict[str, list[SuggestionOut]]:
    """Per task, the API's view of a check-next ranking."""
    return {
        task: [SuggestionOut(concept=s.concept, label=get_concept(s.concept).label,
                             score=s.score, expected_risk_change=s.expected_risk_change,
                             reason=s.reason_text, task=task, task_label=get_task(task).label)
               for s in items]
        for task, items in ranked.items()
    }


def prediction_view(state: PredictionState, viewer: User, primary_qtc: str = DEFAULT_QTC,
                    delineation: bool = True,
                    checks: Mapping[str, Sequence[Suggestion]] | None = None
                    ) -> PredictionOut:
    """The prediction with every override applied: concepts (flags on the values in force),
    risks, contributions, and the best concept to check next for each risk (who overrode a
    concept named as ``viewer`` may see it: a pseudonym for researchers).

    ``delineation=False`` (the answer of an edit or a new prediction) leaves the stored
    delineation (median beats, beat marks: about 80 kB that no edit changes) out of
    ``fiducials``, keeping the marks in force. ``checks``: a new prediction's ranking
    (:attr:`PredictionRun.check_next`, ranked where it was analysed), used while nothing is
    overridden instead of ranking again.
    """
    model_prediction = state.model_prediction
    sex = state.record.sex
    measured = stored_concepts(state.prediction.measurements)
    discordant = state.discordant
    concepts = []
    for concept in REGISTRY:
        estimate = model_prediction.concepts.get(concept.name)
        value = state.value(concept.name)
        measurement = measured.get(concept.name, {})
        flag = concept.flag(value, sex)  # type: ignore[arg-type]
        override = state.overrides.get(concept.name)
        concepts.append(ConceptOut(
            name=concept.name, label=concept.label, unit=concept.unit, kind=concept.kind.value,
            model_value=estimate.value if estimate else None,
            uncertainty=estimate.uncertainty if estimate else None,
            probability=estimate.probability if estimate else None,
            measured_value=measurement.get("value"),
            measured_reason=measurement.get("reason"),
            measured_low_confidence=measurement.get("low_confidence"),
            value=value, overridden=override is not None,
            overridden_by=(shown_name(viewer, override.username, override.pseudonym)
                           if override else None),
            normal_range=concept.normal_range_text(sex), decimals=concept.decimals,
            flag=flag.level.value, flag_note=flag.note,
            derived_from=list(concept.derived_from), sets=concept.solves,
            can_be_typed=concept.can_be_typed, checkable=concept.can_be_checked,
            disagreement=discordant[concept.name].text if concept.name in discordant else None,
        ))
    changes, changed_risk = state.change()
    risks = [changed_risk if changed_risk is not None and changed_risk.task == name
             else _risk_out(state, name, risk) for name, risk in state.tasks.items()]
    ranked = (suggestions_out(checks) if checks is not None and not state.overrides
              else suggestions(state, limit=1))
    best = [items[0] for items in ranked.values() if items]
    change_hint = None
    if changed_risk is not None:
        found = change_suggestion(state.bundle, state.values(), state.series.baseline_values,
                                  state.record.sex, state.record.age_years,  # type: ignore
                                  set(state.overrides))
        if found is not None:  # the change head's own "check next" stands for its risk
            change_hint = found
            best = [found if s.task == CHANGE_TASK else s for s in best]
    prediction = state.prediction
    return PredictionOut(
        id=prediction.id, record_id=state.record.public_id, created_at=prediction.created_at,
        model_name=prediction.model_name, model_checksum=prediction.model_checksum,
        device=prediction.device, latency_ms=prediction.latency_ms, concepts=concepts,
        risks=risks, suggestion=change_hint or (best[0] if best else None), suggestions=best,
        primary_qtc=primary_qtc, adjusted=state.adjusted, editable=state.editable,
        fiducials=_plotted_fiducials(state, delineation),
        series=state.series.view if state.series is not None else None, changes=changes,
        ood=ood_view(state.model_prediction.ood),
        paced=found_paced(prediction.measurements),
        measurement_notes=[MeasurementNoteOut(kind=note.kind, text=note.text)
                           for note in measurement_notes(prediction.measurements)],
    )


def ood_view(ood: OodScore | None) -> OodOut | None:
    """The OOD score with its meaning in words (``None`` when the model has no statistics)."""
    if ood is None:
        return None
    return OodOut(distance=ood.distance, percentile=ood.percentile, high=ood.high,
                  respect=ood.respect, message=describe_score(ood.percentile, ood.high,
                                                              ood.respect))


def _plotted_fiducials(state: PredictionState, delineation: bool) -> dict[str, Any]:
    """The stored delineation for plotting (seconds, mV; left out unless ``delineation``), with
    ``fiducials_in_force``: the median-beat positions in force (seconds from R) and whether a
    clinician moved them."""
    measurements = state.prediction.measurements
    plotted = ({k: v for k, v in measurements.items() if k != "concepts"} if delineation
               else {})
    measured = fiducial_marks.measured_positions(measurements)
    positions = state.fiducials if state.fiducials is not None else measured
    plotted["fiducials_in_force"] = {
        "moved": positions != measured,
        **{f"{name}_s": None if ms is None else ms / 1000.0 for name, ms in positions.items()},
    }
    return plotted


def headline(state: PredictionState | None, primary_qtc: str = DEFAULT_QTC) -> Headline:
    """The worklist's numbers for a record: the primary QTc and the risks in force (marked
    adjusted when a clinician value is in force), the same values the record page shows."""
    if state is None:
        return Headline(None, None, {}, {}, {}, False)
    bands = {name: risk.band.value for name, risk in state.tasks.items()}
    changed = state.change()[1]
    if changed is not None:  # the change-based risk the record page shows for this task
        bands[changed.task] = changed.band
    return Headline(
        prediction_id=state.prediction.id,
        qtc_ms=state.value(primary_qtc),
        risks=state.risk_values(),
        risk_bands=bands,
        risk_points={name: risk.points for name, risk in state.tasks.items()
                     if risk.points is not None},
        adjusted=state.adjusted,
    )


@dataclass(frozen=True)
class Headline:
    """What the worklist shows of a record's newest prediction (values in force)."""

    prediction_id: int | None
    qtc_ms: float | None
    risks: dict[str, float]
    risk_bands: dict[str, str]
    risk_points: dict[str, float]
    adjusted: bool


@dataclass(frozen=True)
class Edit:
    """One stored intervention with the prediction's state before and after it."""

    event: Intervention
    before: PredictionState
    after: PredictionState


def edit_prediction(
    session: Session,
    bundle: LoadedBundle,
    prediction_id: int,
    user: User,
    concept: str,
    action: Literal["override", "revert"],
    value: float | None = None,
    source: str = "typed",
    comment: str | None = None,
) -> Edit:
    """Apply one override (or revert) and store it with risks before/after, chained and audited.

    The intervention chain is locked first and the prediction loaded as it stands inside the
    lock (:func:`prediction_state`: the history the event extends). A typed derived value (a QTc,
    J-Tpeak_c, the heart rate) is stored as the primary concept it sets (QT back-solved with the
    RR in force and that formula), the audit event naming what was typed; reverting a derived
    concept reverts the primary one it set. One head pass per side of the edit. Reverting the
    pseudo-concept :data:`FIDUCIALS` undoes the fiducial move in force (:func:`edit_fiducials`).

    Raises:
        PredictionNotFound: no such prediction (or its record was deleted).
        ModelMismatch: the prediction was made by another bundle.
        ValueError: unknown concept, implausible value or combination (naming the concepts), or
            nothing to revert.
        RecordLocked: the record is reviewed (reopen it first).
    """
    # The history this event extends is read inside the chain lock: read before it, two
    # concurrent edits would both log the same predecessor (issue 18, finding 7).
    audit.lock_chain(session, Intervention)
    state = prediction_state(session, bundle, prediction_id)  # with its series context
    _ensure_editable(state)
    if concept == FIDUCIALS and action == "revert":
        return _revert_fiducials(session, state, user)
    if not is_concept(concept):
        raise ValueError(f"unknown concept {concept!r}")
    target = typed_target(concept)
    target_meta = get_concept(target)
    after_overrides = dict(state.overrides)
    after_overrides.pop(target, None)
    if action == "override":
        typed_value = validate_override(concept, value)  # type: ignore[arg-type]
        after_overrides[concept] = Override(typed_value, user.username, user.pseudonym)
    elif target not in state.overrides:
        raise ValueError(f"{target_meta.label} is not overridden; nothing to revert")
    after = _checked(state, after_overrides)
    if action == "override" and concept != target:  # keep the back-solved primary in force
        # Solved in double precision from the values in force (a typed heart rate of 60 keeps
        # an RR of exactly 1000 ms, where the network's single precision gave 1000.00006).
        solved = with_typed_value(state.values(), state.record.sex,  # type: ignore[arg-type]
                                  concept, typed_value)[target]
        del after_overrides[concept]
        after_overrides[target] = Override(solved, user.username,  # type: ignore[arg-type]
                                           user.pseudonym)
        after = after.with_overrides(after_overrides)  # as a reload computes it, to the bit
    event = Intervention(
        action=action, concept=target, unit=target_meta.unit,
        model_value=state.model_prediction.concepts[target].value,
        previous_value=state.value(target),
        new_value=after.value(target),
        source="revert" if action == "revert" else source, comment=comment,
    )
    if action == "override" and concept != target:  # what was typed, beside what it set
        event.typed_concept, event.typed_value = concept, value
    typed = {"typed_concept": concept, "typed_value": value} if concept != target else {}
    return _store_edit(session, state, after, user, event, **typed)


def edit_fiducials(session: Session, bundle: LoadedBundle, prediction_id: int, user: User,
                   moves_ms: dict[str, float], comment: str | None = None) -> Edit:
    """Move median-beat fiducials: ONE ``fiducial`` event (concept :data:`FIDUCIALS`) whose
    interval values (QT, QRS, PR, J-Tpeak, Tpeak-Tend where their marks differ from the measured
    ones) are put in force like typed overrides, the positions before and after (ms from R)
    logged with it. The chain is locked and the prediction loaded inside the lock, as for
    :func:`edit_prediction`.

    Raises:
        PredictionNotFound: no such prediction (or its record was deleted).
        ModelMismatch: the prediction was made by another bundle.
        FiducialError: no median beat, a position outside it, or out of order (names them).
        ValueError: nothing moved, or an interval or combination the registry refuses.
        RecordLocked: the record is reviewed (reopen it first).
    """
    audit.lock_chain(session, Intervention)
    state = prediction_state(session, bundle, prediction_id)
    _ensure_editable(state)
    measurements = state.prediction.measurements
    before = state.fiducials or fiducial_marks.measured_positions(measurements)
    after_positions = fiducial_marks.moved_positions(
        before, moves_ms, fiducial_marks.beat_window_ms(measurements))
    if after_positions == before:
        raise ValueError("the fiducials are already there; nothing moved")
    concepts = {name: validate_override(name, value) for name, value in
                fiducial_marks.defined_concepts(fiducial_marks.measured_positions(measurements),
                                                after_positions).items()}
    after_overrides = overrides_in_force(session, [state.prediction.id],
                                         with_fiducials=False)[state.prediction.id]
    for name, value in concepts.items():
        after_overrides.pop(name, None)  # the move is the newest value: last in order
        after_overrides[name] = Override(value, user.username, user.pseudonym)
    after = replace(_checked(state, after_overrides), fiducials=after_positions)
    event = Intervention(action="override", concept=FIDUCIALS, unit="ms", source="fiducial",
                         comment=comment, fiducials={"before": before, "after": after_positions,
                                                     "concepts": concepts})
    return _store_edit(session, state, after, user, event)


def _revert_fiducials(session: Session, state: PredictionState, user: User) -> Edit:
    """Undo the fiducial move in force: its concepts fall back to what was in force without it."""
    measured = fiducial_marks.measured_positions(state.prediction.measurements)
    before = state.fiducials or measured
    if before == measured:
        raise ValueError("no fiducial is moved; nothing to revert")
    after_overrides = overrides_in_force(session, [state.prediction.id],
                                         with_fiducials=False)[state.prediction.id]
    after = replace(_checked(state, after_overrides), fiducials=measured)
    event = Intervention(action="revert", concept=FIDUCIALS, unit="ms", source="revert",
                         fiducials={"before": before, "after": measured, "concepts": {}})
    return _store_edit(session, state, after, user, event)


def _ensure_editable(state: PredictionState) -> None:
    """Refuse an edit of a reviewed record (RecordLocked) or of another bundle's prediction
    (ModelMismatch, with the reason)."""
    ensure_editable(state.record)
    if not state.editable:
        state.with_overrides({})  # raises ModelMismatch with the reason


def _checked(state: PredictionState, overrides: dict[str, Override]) -> PredictionState:
    """``state`` with ``overrides`` in force; ValueError naming the concepts when the values
    together fall outside physiology."""
    after = state.with_overrides(overrides)
    if after.result is not None and after.result.implausible:
        raise ValueError("; ".join(after.result.implausible))
    return after


def _store_edit(session: Session, state: PredictionState, after: PredictionState, user: User,
                event: Intervention, **detail: Any) -> Edit:
    """Complete ``event`` (who, when, the risks in force before and after), chain it into the
    intervention log and audit it (``detail`` joins the audit event)."""
    event.prediction_id, event.user_id, event.created_at = (
        state.prediction.id, user.id, audit.utc_now())
    event.risks_before, event.risks_after = state.risk_values(), after.risk_values()
    audit.append(session, event)
    logged = audit.record_event(session, "intervention", user.id,
                                record=state.record.public_id, prediction=state.prediction.id,
                                intervention=event.id, action=event.action,
                                concept=event.concept, **detail)
    if state.version == (logged.seq - 1, logged.prev_hash):
        # Nothing else was logged since ``state`` was read (on PostgreSQL the audit chain's lock
        # is taken only now): ``after`` is the database at the head this edit makes.
        _remember(session, replace(after, version=(logged.seq, logged.hash)))
    return Edit(event, state, after)


def record_summaries(session: Session, bundle: LoadedBundle, records: Sequence[Record],
                     viewer: User, primary_qtc: str = DEFAULT_QTC) -> list[RecordOut]:
    """The worklist rows of ``records`` as ``viewer`` may see them: each with its newest
    prediction's headline in force — the values the record page shows."""
    states = latest_states(session, bundle, records)
    return [record_queries.record_out(r, headline(states.get(r.id), primary_qtc), primary_qtc,
                                      viewer)
            for r in records]


def intervention_history(session: Session, prediction_id: int,
                         viewer: User) -> list[InterventionOut]:
    """The prediction's intervention events, oldest first, as ``viewer`` may see them
    (:class:`PredictionNotFound` when the prediction or its record is gone)."""
    get_prediction(session, prediction_id)
    rows = session.execute(
        select(Intervention, User)
        .join(User, Intervention.user_id == User.id)
        .where(Intervention.prediction_id == prediction_id)
        .order_by(Intervention.id)
    ).all()
    return [intervention_out(event, author, viewer, None) for event, author in rows]


def intervention_out(event: Intervention, author: User, viewer: User,
                     view: PredictionOut | None) -> InterventionOut:
    """The API view of one intervention event as ``viewer`` may see it (researchers get the
    author's pseudonym and no comment), with the prediction after it when given."""
    return InterventionOut(
        id=event.id, created_at=event.created_at, action=event.action,  # type: ignore[arg-type]
        concept=event.concept, unit=event.unit, model_value=event.model_value,
        previous_value=event.previous_value, new_value=event.new_value,
        risks_before=dict(event.risks_before), risks_after=dict(event.risks_after),
        user=shown_name(viewer, author.username, author.pseudonym), source=event.source,
        comment=shown_comment(viewer, event.comment), fiducials=event.fiducials,
        typed_concept=event.typed_concept, typed_value=event.typed_value, prediction=view,
    )
