"""Aggregates over clinicians' interventions for the researcher dashboard.

Every number is computed by the database with ``GROUP BY`` queries (SQLite and PostgreSQL), so
the work and the answer stay bounded by the number of concepts, clinicians, model versions and
days, never by the number of interventions. The rows are the same joined, filtered rows the
intervention export streams (:func:`app.services.exports.intervention_query`), so a number on
the dashboard can be recomputed from the export with the same filters.

Definitions (``Δ`` always means after − before):

* *overrides* / *reverts*: events of that action.
* *mean |model − clinician|*: mean of ``|new_value − model_value|`` over overrides, in the
  concept's unit (binary findings: the fraction of overrides that disagree with the model).
* *risk statistics* (mean Δrisk, mean |Δrisk|, band flips) describe overrides only: a revert
  undoes an override, so counting both would cancel every effect out. A band flip is an override
  whose risk band after differs from the band before, under the bands the record page shows
  (:class:`app.services.bands.BandsInForce`): an intervention on a prediction of the loaded
  bundle is banded with that bundle's bands; one on a prediction of another model version, whose
  card is not at hand, with the task's default bands. The intervention export carries the same
  bands (``before_band_<task>``, ``after_band_<task>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Date, Select, case, distinct, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.db.models import Intervention, Prediction, Record, User
from app.services.audit import as_utc
from app.services.bands import BandsInForce
from app.services.exports import ExportFilter, intervention_query
from models.concepts import concept_names, get_concept, is_concept
from models.tasks import TASKS, RiskBand, Task

OVERRIDE = "override"
REVERT = "revert"


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a timestamp column, on SQLite and PostgreSQL."""

    type = Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the UTC wall time as text; date() keeps its day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz → date would use the session's time zone; pin it to UTC.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@dataclass(frozen=True)
class InterventionScope:
    """Which interventions to aggregate: the export window (days, model) plus a clinician's
    pseudonym and a concept name (``None`` = all)."""

    window: ExportFilter
    user: str | None = None
    concept: str | None = None


class TaskOut(BaseModel):
    """A risk task and the bands its flips are counted with (probabilities)."""

    name: str
    label: str
    intermediate_from: float = Field(
        description="Where the loaded model's band becomes intermediate (the record page's).")
    high_from: float = Field(description="Where the loaded model's band becomes high.")
    bands_set_by: str = Field(description="How the loaded model's cut-offs were set.")
    default_intermediate_from: float = Field(
        description="The task's default cut-off, used for predictions of other model versions.")
    default_high_from: float = Field(
        description="The task's default cut-off, used for predictions of other model versions.")


class ConceptStats(BaseModel):
    """What clinicians did to one concept."""

    concept: str
    label: str
    unit: str = Field(description="The concept's unit from the registry ('' for findings).")
    overrides: int
    reverts: int
    mean_abs_difference: float | None = Field(
        description="Mean |model value − clinician value| over overrides, in `unit`.")
    mean_risk_change: dict[str, float | None] = Field(
        description="Task → mean (risk after − risk before) over overrides, as a probability.")
    band_flips: dict[str, int] = Field(
        description="Task → number of overrides whose risk band after differs from before.")


class UserStats(BaseModel):
    """One clinician, by pseudonym only."""

    user: str = Field(description="Pseudonym (never the username).")
    overrides: int
    reverts: int
    mean_abs_risk_change: dict[str, float | None] = Field(
        description="Task → mean |risk after − risk before| over overrides (probability).")


class ModelConceptStats(BaseModel):
    """One concept under one model version."""

    concept: str
    unit: str
    overrides: int
    mean_abs_difference: float | None = Field(
        description="Mean |model value − clinician value| over overrides, in `unit`.")


class ModelStats(BaseModel):
    """Interventions on the predictions of one model version."""

    model_name: str
    model_checksum: str
    overrides: int
    reverts: int
    concepts: list[ModelConceptStats] = Field(
        description="Per concept (registry order); units differ, so there is no pooled mean.")


class DayStats(BaseModel):
    """Events on one UTC day (days without events between the first and last are included)."""

    day: date
    overrides: int
    reverts: int


class Totals(BaseModel):
    """Counts over every matching event."""

    events: int
    overrides: int
    reverts: int
    users: int = Field(description="Distinct clinicians.")
    predictions: int
    records: int
    first_at: datetime | None
    last_at: datetime | None


class ModelVersion(BaseModel):
    """A model version that has predictions."""

    name: str
    checksum: str


class Facets(BaseModel):
    """Values the filters can take, whatever the current filters are."""

    models: list[ModelVersion] = Field(description="Every model version with predictions.")
    users: list[str] = Field(description="Pseudonyms of every clinician with an intervention.")


class InterventionSummary(BaseModel):
    """The dashboard's aggregates for one scope."""

    tasks: list[TaskOut]
    totals: Totals
    by_concept: list[ConceptStats] = Field(description="Concepts with events, registry order.")
    by_user: list[UserStats] = Field(description="Most overrides first.")
    by_model: list[ModelStats] = Field(description="Most overrides first.")
    over_time: list[DayStats] = Field(description="Oldest day first.")
    facets: Facets


def check_concept(name: str | None) -> None:
    """Refuse a concept filter that names no registry concept (``ValueError``)."""
    if name is not None and not is_concept(name):
        raise ValueError(f"unknown concept {name!r}")


def _risk(column: Any, task: Task) -> ColumnElement[float]:
    return column[task.name].as_float()


def band_rank(probability: ColumnElement[float], intermediate_from: ColumnElement[float],
              high_from: ColumnElement[float]) -> ColumnElement[int | None]:
    """SQL for the rank of :meth:`Bands.band` of ``probability`` (0 low … 2 high; NULL stays
    NULL) under the cut-offs ``intermediate_from`` and ``high_from`` (per row): the same rule,
    evaluated by the database so the aggregates stay there."""
    rank = list(RiskBand).index
    return case((probability.is_(None), None),
                (probability >= high_from, rank(RiskBand.HIGH)),
                (probability >= intermediate_from, rank(RiskBand.INTERMEDIATE)),
                else_=rank(RiskBand.LOW))


def _is(action: str) -> ColumnElement[bool]:
    return Intervention.action == action


def _count(action: str) -> ColumnElement[int]:
    return func.count(case((_is(action), 1)))


def _override_mean(value: ColumnElement[float]) -> ColumnElement[float | None]:
    return func.avg(case((_is(OVERRIDE), value)))


def _abs_difference() -> ColumnElement[float]:
    return func.abs(Intervention.new_value - Intervention.model_value)


def _risk_change(task: Task) -> ColumnElement[float]:
    return _risk(Intervention.risks_after, task) - _risk(Intervention.risks_before, task)


def _band_flips(task: Task, in_force: BandsInForce) -> ColumnElement[int]:
    cuts = (in_force.cut(task.name, "intermediate_from"), in_force.cut(task.name, "high_from"))
    flipped = band_rank(_risk(Intervention.risks_before, task), *cuts) != band_rank(
        _risk(Intervention.risks_after, task), *cuts)
    return func.coalesce(func.sum(case((_is(OVERRIDE) & flipped, 1), else_=0)), 0)


def _scoped(scope: InterventionScope) -> Select:
    """The export's joined, filtered intervention rows, narrowed to the scope, unordered."""
    query = intervention_query(scope.window).order_by(None)
    if scope.user:
        query = query.where(User.pseudonym == scope.user)
    if scope.concept:
        query = query.where(Intervention.concept == scope.concept)
    return query


def _grouped(scope: InterventionScope, keys: tuple[Any, ...], *values: Any) -> Select:
    return _scoped(scope).with_only_columns(*keys, *values).group_by(*keys)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _concept_meta(name: str, stored_unit: str) -> tuple[str, str, int]:
    """Label, unit and registry position; a concept no longer in the registry keeps the unit
    stored with its events and sorts last."""
    names = concept_names()
    if is_concept(name):
        concept = get_concept(name)
        return concept.label, concept.unit, names.index(name)
    return name, stored_unit, len(names)


def _by_concept(session: Session, scope: InterventionScope,
                in_force: BandsInForce) -> list[ConceptStats]:
    per_task = [column for task in TASKS
                for column in (_override_mean(_risk_change(task)), _band_flips(task, in_force))]
    rows = session.execute(_grouped(
        scope, (Intervention.concept,), func.max(Intervention.unit), _count(OVERRIDE),
        _count(REVERT), _override_mean(_abs_difference()), *per_task)).all()
    stats = []
    for concept, stored_unit, overrides, reverts, difference, *task_values in rows:
        label, unit, position = _concept_meta(concept, stored_unit)
        stats.append((position, ConceptStats(
            concept=concept, label=label, unit=unit, overrides=overrides, reverts=reverts,
            mean_abs_difference=_float(difference),
            mean_risk_change={t.name: _float(task_values[2 * i]) for i, t in enumerate(TASKS)},
            band_flips={t.name: int(task_values[2 * i + 1]) for i, t in enumerate(TASKS)},
        )))
    return [item for _, item in sorted(stats, key=lambda pair: (pair[0], pair[1].concept))]


def _by_user(session: Session, scope: InterventionScope) -> list[UserStats]:
    rows = session.execute(_grouped(
        scope, (User.pseudonym,), _count(OVERRIDE), _count(REVERT),
        *(_override_mean(func.abs(_risk_change(task))) for task in TASKS))).all()
    stats = [UserStats(user=pseudonym, overrides=overrides, reverts=reverts,
                       mean_abs_risk_change={t.name: _float(v) for t, v in zip(TASKS, changes)})
             for pseudonym, overrides, reverts, *changes in rows]
    return sorted(stats, key=lambda s: (-s.overrides, -s.reverts, s.user))


def _by_model(session: Session, scope: InterventionScope) -> list[ModelStats]:
    keys = (Prediction.model_name, Prediction.model_checksum, Intervention.concept)
    rows = session.execute(_grouped(
        scope, keys, func.max(Intervention.unit), _count(OVERRIDE), _count(REVERT),
        _override_mean(_abs_difference()))).all()
    models: dict[tuple[str, str], ModelStats] = {}
    positions: dict[str, int] = {}
    for name, checksum, concept, stored_unit, overrides, reverts, difference in rows:
        model = models.setdefault((name, checksum), ModelStats(
            model_name=name, model_checksum=checksum, overrides=0, reverts=0, concepts=[]))
        model.overrides += overrides
        model.reverts += reverts
        _, unit, positions[concept] = _concept_meta(concept, stored_unit)
        model.concepts.append(ModelConceptStats(concept=concept, unit=unit, overrides=overrides,
                                                mean_abs_difference=_float(difference)))
    for model in models.values():
        model.concepts.sort(key=lambda c: (positions[c.concept], c.concept))
    return sorted(models.values(), key=lambda m: (-m.overrides, m.model_name, m.model_checksum))


def _days(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _over_time(session: Session, scope: InterventionScope) -> list[DayStats]:
    rows = session.execute(_grouped(scope, (utc_day(Intervention.created_at),),
                                    _count(OVERRIDE), _count(REVERT))).all()
    counts = {day: (overrides, reverts) for day, overrides, reverts in rows}
    if not counts:
        return []
    return [DayStats(day=d, overrides=counts.get(d, (0, 0))[0], reverts=counts.get(d, (0, 0))[1])
            for d in _days(min(counts), max(counts))]


def _utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC (SQLite hands back the stored UTC wall time without a zone)."""
    return None if moment is None else as_utc(moment)


def _totals(session: Session, scope: InterventionScope) -> Totals:
    events, overrides, reverts, users, predictions, records, first_at, last_at = session.execute(
        _scoped(scope).with_only_columns(
            func.count(), _count(OVERRIDE), _count(REVERT), func.count(distinct(User.id)),
            func.count(distinct(Prediction.id)), func.count(distinct(Record.id)),
            func.min(Intervention.created_at), func.max(Intervention.created_at))).one()
    return Totals(events=events, overrides=overrides, reverts=reverts, users=users,
                  predictions=predictions, records=records, first_at=_utc(first_at),
                  last_at=_utc(last_at))


def _facets(session: Session) -> Facets:
    models = session.execute(select(Prediction.model_name, Prediction.model_checksum).distinct()
                             .order_by(Prediction.model_name, Prediction.model_checksum)).all()
    users = session.execute(select(User.pseudonym).where(
        User.id.in_(select(Intervention.user_id).distinct())).order_by(User.pseudonym)).scalars()
    return Facets(models=[ModelVersion(name=n, checksum=c) for n, c in models], users=list(users))


def summarise(session: Session, scope: InterventionScope,
              in_force: BandsInForce) -> InterventionSummary:
    """Every dashboard aggregate over the interventions in ``scope``, band flips under
    ``in_force`` (see the module doc)."""
    return InterventionSummary(
        tasks=[TaskOut(name=t.name, label=t.label,
                       intermediate_from=in_force.bands[t.name].intermediate_from,
                       high_from=in_force.bands[t.name].high_from,
                       bands_set_by=in_force.bands[t.name].set_by,
                       default_intermediate_from=t.bands.intermediate_from,
                       default_high_from=t.bands.high_from) for t in TASKS],
        totals=_totals(session, scope),
        by_concept=_by_concept(session, scope, in_force),
        by_user=_by_user(session, scope),
        by_model=_by_model(session, scope),
        over_time=_over_time(session, scope),
        facets=_facets(session),
    )

