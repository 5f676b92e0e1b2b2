"""The tamper-evident logs: hash chains over ``interventions`` and ``audit_events``.

Each row stores ``prev_hash`` (the hash of the row before it in the same table, or 64 zeros for
the first) and ``hash = SHA-256(prev_hash ‖ canonical JSON of the row's content)``. Rows are
appended under a lock (SQLite: the ``BEGIN IMMEDIATE`` write transaction; PostgreSQL: a
transaction-scoped advisory lock) so the chain never forks. :func:`verify_chains` recomputes both
chains and names the first row that does not match — an edit, deletion, insertion or reordering
made behind the application's back.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, Intervention

GENESIS_HASH = "0" * 64

#: Content columns hashed per table (everything but the surrogate id and the hash columns).
_HASHED_COLUMNS: dict[type, tuple[str, ...]] = {
    Intervention: (
        "prediction_id", "user_id", "created_at", "action", "concept", "unit", "model_value",
        "previous_value", "new_value", "risks_before", "risks_after", "source", "comment",
    ),
    AuditEvent: ("created_at", "user_id", "event_type", "detail"),
}
#: PostgreSQL advisory-lock keys, one per chain.
_LOCK_KEYS: dict[type, int] = {Intervention: 71_001, AuditEvent: 71_002}


def utc_now() -> datetime:
    """Current time, timezone-aware UTC, truncated to microseconds (what both engines store)."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, timezone-aware (SQLite hands back the stored UTC wall time naive)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Columns are typed on read (a Float column returns 480.0 for an inserted 480).
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, dict):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    return value


def row_hash(prev_hash: str, row: Intervention | AuditEvent) -> str:
    """The chain hash of ``row`` given its predecessor's hash."""
    content = {name: _canonical_value(getattr(row, name)) for name in _HASHED_COLUMNS[type(row)]}
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev_hash.encode("ascii") + payload.encode("utf-8")).hexdigest()


def lock_chain(session: Session, model: type) -> None:
    """Hold ``model``'s chain lock until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock (re-entrant within the transaction); on
    SQLite the ``BEGIN IMMEDIATE`` write transaction already serialises writers. Callers that
    derive a row's content from the rows before it (an intervention's ``previous_value`` and
    ``risks_before``) take it *before* reading them.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[model]})


def append(session: Session, row: Intervention | AuditEvent) -> Intervention | AuditEvent:
    """Chain ``row`` to the last row of its table and add it to the session (flushed)."""
    model = type(row)
    lock_chain(session, model)
    last_hash = session.execute(
        select(model.hash).order_by(model.id.desc()).limit(1)
    ).scalar_one_or_none()
    row.prev_hash = last_hash or GENESIS_HASH
    row.hash = row_hash(row.prev_hash, row)
    session.add(row)
    session.flush()
    return row


def record_event(
    session: Session, event_type: str, user_id: int | None, **detail: Any
) -> AuditEvent:
    """Append an audit event. ``detail`` must not contain anything that identifies a patient."""
    event = AuditEvent(
        created_at=utc_now(), user_id=user_id, event_type=event_type, detail=detail
    )
    append(session, event)
    return event


@dataclass
class ChainReport:
    """Result of verifying one chain."""

    table: str
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row links to its predecessor and hashes to its stored hash."""
        return not self.problems


def verify_chain(session: Session, model: type, batch_size: int = 1000) -> ChainReport:
    """Recompute the chain of ``model``'s table in id order, in batches (bounded memory)."""
    report = ChainReport(table=model.__tablename__)
    expected_prev = GENESIS_HASH
    last_id = 0
    while True:
        rows = session.execute(
            select(model).where(model.id > last_id).order_by(model.id).limit(batch_size)
        ).scalars().all()
        if not rows:
            return report
        for row in rows:
            report.rows += 1
            if row.prev_hash != expected_prev:
                report.problems.append(
                    f"{report.table} row {row.id}: prev_hash does not match the previous row "
                    "(a row was deleted, inserted or reordered)"
                )
            if row_hash(row.prev_hash, row) != row.hash:
                report.problems.append(
                    f"{report.table} row {row.id}: content does not match its hash (edited)"
                )
            expected_prev = row.hash
            last_id = row.id
        session.expunge_all()


def verify_chains(session: Session) -> list[ChainReport]:
    """Verify the interventions chain and the audit-event chain."""
    return [verify_chain(session, Intervention), verify_chain(session, AuditEvent)]
