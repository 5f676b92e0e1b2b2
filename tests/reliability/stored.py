"""What the database holds after a load or crash run, compared with what the clients were told."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from app.db.models import AuditEvent, Intervention, User
from app.db.session import Database
from app.services.audit import verify_chains
from tests.reliability.load import Acknowledged


@dataclass(frozen=True)
class StoredIntervention:
    """One ``interventions`` row, with its user's name and its audit events' count."""

    id: int
    prediction_id: int
    concept: str
    new_value: float | None
    username: str
    action: str
    complete: bool
    audit_events: int


def stored_interventions(database_url: str) -> dict[int, StoredIntervention]:
    """Every intervention row by id, checked for completeness (hash, risks, audit event)."""
    database = Database(database_url)
    try:
        with database.read() as session:
            events = Counter(
                detail.get("intervention")
                for detail in session.execute(
                    select(AuditEvent.detail).where(AuditEvent.event_type == "intervention")
                ).scalars()
            )
            rows = session.execute(
                select(Intervention, User.username).join(User, Intervention.user_id == User.id)
            ).all()
            return {
                row.id: StoredIntervention(
                    row.id, row.prediction_id, row.concept, row.new_value, username, row.action,
                    complete=bool(row.hash and row.prev_hash and row.risks_before
                                  and row.risks_after and row.created_at),
                    audit_events=events[row.id],
                )
                for row, username in rows
            }
    finally:
        database.dispose()


def chain_problems(database_url: str) -> list[str]:
    """What :func:`verify_chains` finds wrong (empty when both chains verify)."""
    database = Database(database_url)
    try:
        with database.read() as session:
            return [finding for report in verify_chains(session) for finding in report.findings]
    finally:
        database.dispose()


def acknowledgement_problems(acknowledged: list[Acknowledged],
                             stored: dict[int, StoredIntervention]) -> list[str]:
    """Each acknowledged edit must be stored once, complete, with the values the client saw."""
    problems = []
    for ack in acknowledged:
        row = stored.get(ack.id)
        if row is None:
            problems.append(f"acknowledged intervention {ack.id} is not in the database")
            continue
        seen = (ack.prediction_id, ack.concept, ack.new_value, ack.username, "override")
        kept = (row.prediction_id, row.concept, row.new_value, row.username, row.action)
        if seen != kept:
            problems.append(f"intervention {ack.id}: acknowledged {seen}, stored {kept}")
        # The task head computes in float32: the value in force is the sent one to ~7 digits.
        if abs(ack.new_value - ack.sent_value) > 1e-6 * max(1.0, abs(ack.sent_value)):
            problems.append(f"intervention {ack.id}: sent {ack.sent_value}, got {ack.new_value}")
    copies = Counter((r.prediction_id, r.concept, r.new_value) for r in stored.values())
    problems += [f"{key} stored {n} times" for key, n in copies.items() if n > 1]
    problems += [f"intervention {r.id} is incomplete or has {r.audit_events} audit events"
                 for r in stored.values() if not r.complete or r.audit_events != 1]
    return problems
