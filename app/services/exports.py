"""Streaming exports of interventions and predictions as CSV, JSONL or Parquet.

Rows are read from the database in batches and written out as they come, so an export of any
size runs in bounded memory. Ids are pseudonymous (record ``public_id``, user ``pseudonym``);
free-text comments are not exported because a clinician may have typed an identifier into one.
Timestamps are ISO 8601 with their UTC offset (``2026-12-06T00:05:43.123456+00:00``) on every
engine. A prediction row carries its review state, and each concept's value and the risks in
force — after the clinician values, as the record page shows them (the risks after the
prediction's latest intervention while any override is in force) — beside the model's own.
Risks are banded as the record page showed them (:class:`app.services.bands.BandsInForce`): an
intervention's band before and after, a prediction's band in force.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.db.models import Intervention, Prediction, Record, User
from app.db.session import Database
from app.services.audit import as_utc
from app.services.bands import BandsInForce
from app.services.predictions import overrides_in_force, values_in_force
from models.concepts import REGISTRY
from models.ecg.io.device import QUANTITIES
from models.ecg.measure import T_END_CONCEPTS, stored_concepts
from models.ecg.notes import found_paced
from models.heads.points import logit, points_from_logit
from models.tasks import TASKS

ExportFormat = Literal["csv", "jsonl", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
BATCH_ROWS = 500


@dataclass(frozen=True)
class ExportFilter:
    """Which rows to export: a creation-time window (UTC) and/or one model."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    model: str | None = None  # model name or checksum


@dataclass(frozen=True)
class Column:
    """One exported column: its name, Arrow type and how to read it from a result row."""

    name: str
    arrow_type: pa.DataType
    read: Callable[[Any], Any]


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset, whatever the engine handed back (SQLite: naive UTC)."""
    return as_utc(moment).isoformat() if moment is not None else None


def _source(event: Intervention) -> str:
    """How the value came in: typed, caliper, suggestion — or ``revert`` for a revert (rows
    stored before reverts recorded it say ``typed``)."""
    return "revert" if event.action == "revert" else event.source


def _positions(when: str) -> Callable[[Any], Any]:
    """A fiducial move's positions ``before``/``after`` (ms from R) as a JSON object text."""
    def read(row: Any) -> str | None:
        moved = row.Intervention.fiducials
        return None if moved is None else json.dumps(moved[when], sort_keys=True)
    return read


def _risk(field: str, task: str) -> Callable[[Any], Any]:
    return lambda row: (getattr(row.Intervention, field) or {}).get(task)


#: The record's pseudonymous subject series (ours) and whether it is the series' baseline.
SERIES_COLUMNS: tuple[Column, ...] = (
    Column("series_id", pa.string(), lambda r: r.Record.series_id),
    Column("is_baseline", pa.bool_(), lambda r: r.Record.is_baseline),
)

INTERVENTION_COLUMNS: tuple[Column, ...] = (
    Column("intervention_id", pa.int64(), lambda r: r.Intervention.id),
    Column("created_at", pa.string(), lambda r: _iso(r.Intervention.created_at)),
    Column("record_id", pa.string(), lambda r: r.Record.public_id),
    *SERIES_COLUMNS,
    Column("prediction_id", pa.int64(), lambda r: r.Prediction.id),
    Column("model_name", pa.string(), lambda r: r.Prediction.model_name),
    Column("model_checksum", pa.string(), lambda r: r.Prediction.model_checksum),
    Column("user", pa.string(), lambda r: r.User.pseudonym),
    Column("user_role", pa.string(), lambda r: r.User.role),
    Column("action", pa.string(), lambda r: r.Intervention.action),
    Column("concept", pa.string(), lambda r: r.Intervention.concept),
    # A typed QTc (J-Tpeak_c, heart rate) is stored as the QT (J-Tpeak, RR) it set: what was typed.
    Column("typed_concept", pa.string(), lambda r: r.Intervention.typed_concept),
    Column("typed_value", pa.float64(), lambda r: r.Intervention.typed_value),
    Column("unit", pa.string(), lambda r: r.Intervention.unit),
    Column("model_value", pa.float64(), lambda r: r.Intervention.model_value),
    Column("previous_value", pa.float64(), lambda r: r.Intervention.previous_value),
    Column("new_value", pa.float64(), lambda r: r.Intervention.new_value),
    *(
        Column(f"{when}_{task.name}", pa.float64(), _risk(f"risks_{when}", task.name))
        for task in TASKS
        for when in ("before", "after")
    ),
    Column("source", pa.string(), lambda r: _source(r.Intervention)),
    Column("fiducials_before_ms", pa.string(), _positions("before")),
    Column("fiducials_after_ms", pa.string(), _positions("after")),
    Column("hash", pa.string(), lambda r: r.Intervention.hash),
)


def _model_value(name: str) -> Callable[[Any], Any]:
    return lambda row: (row.Prediction.model_output.get("concepts", {}).get(name) or {}).get("value")


def _cart_value(name: str) -> Callable[[Any], Any]:
    return lambda row: ((row.Record.device_measurements or {}).get("values") or {}).get(name)


def _cart_statements(row: Any) -> str | None:
    statements = (row.Record.device_measurements or {}).get("statements")
    return " | ".join(statements) if statements else None


def _measured_value(name: str, field: str = "value") -> Callable[[Any], Any]:
    return lambda row: stored_concepts(row.Prediction.measurements).get(name, {}).get(field)


def _lead_qt(field: str) -> Callable[[Any], Any]:
    return lambda row: (row.Prediction.measurements.get("lead_qt") or {}).get(field)


def _risk_in_force(task: str) -> Callable[[Any], Any]:
    return lambda row: (row.risks_in_force or row.Prediction.risks).get(task)


def _points(task: str, in_force: bool) -> Callable[[Any], Any]:
    """A points head's score (e.g. Schwartz points) of the prediction, or in force after the
    clinician's edits (from the stored probability, whose logit is the points less the centre);
    empty for a head that gives no points."""
    def value(row: Any) -> float | None:
        stored = (row.Prediction.model_output.get("tasks", {}).get(task) or {}).get("points")
        probability = row.risks_in_force.get(task) if in_force and row.risks_in_force else None
        if stored is None or probability is None:
            return stored
        return points_from_logit(logit(probability))

    return value


PREDICTION_COLUMNS: tuple[Column, ...] = (
    Column("prediction_id", pa.int64(), lambda r: r.Prediction.id),
    Column("created_at", pa.string(), lambda r: _iso(r.Prediction.created_at)),
    Column("record_id", pa.string(), lambda r: r.Record.public_id),
    *SERIES_COLUMNS,
    Column("source_format", pa.string(), lambda r: r.Record.source_format),
    Column("age_years", pa.int64(), lambda r: r.Record.age_years),
    Column("sex", pa.string(), lambda r: r.Record.sex),
    Column("model_name", pa.string(), lambda r: r.Prediction.model_name),
    Column("model_checksum", pa.string(), lambda r: r.Prediction.model_checksum),
    Column("device", pa.string(), lambda r: r.Prediction.device),
    Column("latency_ms", pa.float64(), lambda r: r.Prediction.latency_ms),
    Column("user", pa.string(), lambda r: r.User.pseudonym),
    Column("review_status", pa.string(), lambda r: r.Record.status),
    Column("reviewed_at", pa.string(), lambda r: _iso(r.Record.reviewed_at)),
    Column("reviewed_by", pa.string(), lambda r: r.Reviewer.pseudonym if r.Reviewer else None),
    Column("adjusted", pa.bool_(), lambda r: r.risks_in_force is not None),
    *(Column(task.name, pa.float64(), lambda r, t=task.name: r.Prediction.risks.get(t))
      for task in TASKS),
    *(Column(f"{task.name}_in_force", pa.float64(), _risk_in_force(task.name)) for task in TASKS),
    # The Long-QT risk of a points head is its points; its probability column is their logistic.
    *(Column(f"{task.name}_points", pa.float64(), _points(task.name, False)) for task in TASKS),
    *(Column(f"{task.name}_points_in_force", pa.float64(), _points(task.name, True))
      for task in TASKS),
    *(Column(f"model_{c.name}", pa.float64(), _model_value(c.name)) for c in REGISTRY),
    # The value the record page shows: the clinician's where set, what derives from it re-derived.
    *(Column(f"in_force_{c.name}", pa.float64(), lambda r, n=c.name: r.values_in_force.get(n))
      for c in REGISTRY),
    *(Column(f"measured_{c.name}", pa.float64(), _measured_value(c.name)) for c in REGISTRY),
    # Why the measured QT, Tpeak-Tend (and every value derived from them) should be checked by eye.
    *(Column(f"measured_{name}_low_confidence", pa.string(),
             _measured_value(name, "low_confidence")) for name in T_END_CONCEPTS),
    # The QT the Long-QT criteria use (lead II, else V5) beside the global QT above, and
    # whether pacemaker stimuli were found (empty: measured before QTLens looked for them).
    Column("measured_lead_qt_lead", pa.string(), _lead_qt("lead")),
    Column("measured_lead_qt_ms", pa.float64(), _lead_qt("qt_ms")),
    Column("measured_lead_qtc_fridericia_ms", pa.float64(), _lead_qt("qtc_fridericia_ms")),
    Column("paced", pa.bool_(), lambda r: found_paced(r.Prediction.measurements)),
    # The cart's own reading (MUSE, Philips, aECG files), beside QTLens' values.
    Column("cart_source", pa.string(),
           lambda r: (r.Record.device_measurements or {}).get("source")),
    *(Column(f"cart_{name}", pa.float64(), _cart_value(name)) for name in QUANTITIES),
    Column("cart_statements", pa.string(), _cart_statements),
)


def _filtered(query: Select, created_at: Any, checksum: Any, name: Any,
              export_filter: ExportFilter) -> Select:
    if export_filter.created_from is not None:
        query = query.where(created_at >= export_filter.created_from)
    if export_filter.created_to is not None:
        query = query.where(created_at < export_filter.created_to)
    if export_filter.model:
        query = query.where((checksum == export_filter.model) | (name == export_filter.model))
    return query


def intervention_query(export_filter: ExportFilter) -> Select:
    """Interventions with their prediction, record and (pseudonymous) user, oldest first."""
    query = (
        select(Intervention, Prediction, Record, User)
        .join(Prediction, Intervention.prediction_id == Prediction.id)
        .join(Record, Prediction.record_id == Record.id)
        .join(User, Intervention.user_id == User.id)
        .order_by(Intervention.id)
    )
    return _filtered(query, Intervention.created_at, Prediction.model_checksum,
                     Prediction.model_name, export_filter)


def prediction_query(export_filter: ExportFilter) -> Select:
    """Predictions with their record, the user who ran them, the record's reviewer and the risks
    after their latest intervention (``None`` without one), oldest first. Whether those are in
    force — whether any override is — is read with the overrides in force
    (:func:`_with_values_in_force`), as the record page reads it."""
    creator = aliased(User, name="User")
    reviewer = aliased(User, name="Reviewer")
    latest_risks = (
        select(Intervention.risks_after)
        .where(Intervention.prediction_id == Prediction.id)
        .order_by(Intervention.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Prediction, Record, creator, reviewer, latest_risks.label("latest_risks_after"))
        .join(Record, Prediction.record_id == Record.id)
        .join(creator, Prediction.created_by == creator.id)
        .outerjoin(reviewer, Record.reviewed_by == reviewer.id)
        .order_by(Prediction.id)
    )
    return _filtered(query, Prediction.created_at, Prediction.model_checksum,
                     Prediction.model_name, export_filter)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class _PredictionRow:
    """A prediction export row with what is in force: each concept's value
    (:func:`values_in_force`) and the risks (``None`` when no override is in force)."""

    row: Any
    values_in_force: dict[str, float | None]
    risks_in_force: dict[str, float] | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def _with_values_in_force(session: Session, partition: Sequence[Any]) -> list[_PredictionRow]:
    """A batch of prediction rows with what is in force: one query for the overrides in force
    of the whole batch (:func:`overrides_in_force`, as the record page reads them)."""
    in_force = overrides_in_force(session, [row.Prediction.id for row in partition])
    rows = []
    for row in partition:
        overrides = {name: o.value for name, o in in_force[row.Prediction.id].items()}
        model_values = {name: (entry or {}).get("value")
                        for name, entry in row.Prediction.model_output.get("concepts", {}).items()}
        rows.append(_PredictionRow(row, values_in_force(model_values, overrides, row.Record.sex),
                                   row.latest_risks_after if overrides else None))
    return rows


def _rows(db: Database, query: Select, columns: Iterable[Column],
          prepare: Callable[[Session, Sequence[Any]], Sequence[Any]] | None = None,
          ) -> Iterator[list[list[Any]]]:
    """Batches of exported rows (lists of values in column order); ``prepare`` turns a batch of
    result rows into what the columns read (one call per batch)."""
    columns = tuple(columns)
    with db.read() as session:
        result = session.execute(query.execution_options(yield_per=BATCH_ROWS))
        for partition in result.partitions(BATCH_ROWS):
            rows = prepare(session, partition) if prepare is not None else partition
            yield [[_clean(col.read(row)) for col in columns] for row in rows]
            # Forget the batch's objects (bounded memory). Not expunge_all(): it replaces the
            # identity map the running result still loads into, so batch 2 failed mid-stream.
            mapped = {id(e): e for row in partition for e in row
                      if hasattr(e, "_sa_instance_state")}  # not the risks-in-force dict
            for entity in mapped.values():
                if entity in session:
                    session.expunge(entity)


class _ChunkSink:
    """A write-only file for pyarrow that hands out what was written since the last call."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        """Nothing buffered beyond the chunk list."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _band(in_force: BandsInForce, task: str,
          probability: Callable[[Any], float | None]) -> Callable[[Any], str | None]:
    return lambda row: in_force.band(row.Prediction.model_checksum, task, probability(row))


def band_columns(kind: Literal["interventions", "predictions"],
                 in_force: BandsInForce) -> tuple[Column, ...]:
    """The risk bands the record page showed, per task (:class:`BandsInForce`): an
    intervention's band before and after (the dashboard's band flips), a prediction's band in
    force."""
    if kind == "interventions":
        return tuple(
            Column(f"{when}_band_{task.name}", pa.string(),
                   _band(in_force, task.name, _risk(f"risks_{when}", task.name)))
            for task in TASKS for when in ("before", "after"))
    return tuple(Column(f"{task.name}_band_in_force", pa.string(),
                        _band(in_force, task.name, _risk_in_force(task.name))) for task in TASKS)


def stream(db: Database, kind: Literal["interventions", "predictions"],
           export_format: ExportFormat, export_filter: ExportFilter,
           in_force: BandsInForce) -> Iterator[bytes]:
    """The export as a byte stream in ``export_format``, risks banded with ``in_force``."""
    columns = (*(INTERVENTION_COLUMNS if kind == "interventions" else PREDICTION_COLUMNS),
               *band_columns(kind, in_force))
    query = intervention_query(export_filter) if kind == "interventions" else prediction_query(
        export_filter)
    names = [c.name for c in columns]
    batches = _rows(db, query, columns,
                    None if kind == "interventions" else _with_values_in_force)
    if export_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        for batch in batches:
            writer.writerows(batch)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    elif export_format == "jsonl":
        for batch in batches:
            yield "".join(
                json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n" for row in batch
            ).encode("utf-8")
    else:
        schema = pa.schema([(c.name, c.arrow_type) for c in columns])
        sink = _ChunkSink()
        with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema) as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_pylist(
                    [dict(zip(names, row)) for row in batch], schema=schema))
                yield sink.take()
        yield sink.take()

