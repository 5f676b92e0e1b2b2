"""Subject series: the records of one (pseudonymous) person, one of them the drug-free baseline.

A series id is QTLens' own (``SER-`` + 40 random bits), created when a clinician starts a
series at upload or on the worklist; nothing from an upload ever becomes one, so it identifies
no one outside QTLens. A record belongs to at most one series; at most one live record of a
series is its baseline (marking another moves the mark). Every change is audited.
"""

from __future__ import annotations

import base64
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import Record, User
from app.services.audit import record_event
from app.services.records import ensure_editable

#: What a clinician sends to start a new series.
NEW_SERIES = "new"
SERIES_ID_PATTERN = re.compile(r"^SER-[A-Z2-7]{8}$")


class SeriesError(ValueError):
    """A series request that cannot be applied (unknown series, baseline outside a series)."""


def new_series_id() -> str:
    """A fresh pseudonymous series id such as ``SER-7K3M9Q2P``."""
    return "SER-" + base64.b32encode(secrets.token_bytes(5)).decode("ascii")


def _existing_series(session: Session, series_id: str) -> str:
    """``series_id`` when a live record carries it; :class:`SeriesError` otherwise."""
    if not SERIES_ID_PATTERN.match(series_id):
        raise SeriesError(f"{series_id!r} is not a series id (SER- and 8 letters/digits) or 'new'")
    found = session.execute(
        select(Record.id).where(Record.series_id == series_id, Record.status != "deleted").limit(1)
    ).first()
    if found is None:
        raise SeriesError(f"no series {series_id}")
    return series_id


def assign_series(
    session: Session, record: Record, user: User, series: str | None, baseline: bool
) -> None:
    """Put ``record`` in a series (or take it out), optionally as the series' baseline.

    Args:
        series: ``"new"`` for a new series, an existing series id, or ``None`` for none.
        baseline: mark the record as its series' baseline (unmarks the previous one).

    Raises:
        SeriesError: an unknown series, or a baseline without a series.
        RecordLocked: the record is reviewed (its series decides its change-based risk).
    """
    ensure_editable(record)
    if series is None:
        if baseline:
            raise SeriesError("a record outside a series cannot be a baseline")
        series_id = None
    elif series == NEW_SERIES:
        series_id = new_series_id()
    else:
        series_id = _existing_series(session, series)
    if baseline:
        session.execute(
            update(Record)
            .where(Record.series_id == series_id, Record.id != record.id, Record.is_baseline)
            .values(is_baseline=False)
        )
    record.series_id = series_id
    record.is_baseline = baseline
    session.flush()
    record_event(
        session, "series_set", user.id, record=record.public_id, series=series_id,
        baseline=baseline,
    )


def series_baseline(session: Session, record: Record) -> Record | None:
    """The live baseline record of ``record``'s series, unless ``record`` is it (or alone)."""
    if record.series_id is None or record.is_baseline:
        return None
    return session.execute(
        select(Record).where(
            Record.series_id == record.series_id,
            Record.is_baseline,
            Record.status != "deleted",
            Record.id != record.id,
        )
    ).scalar_one_or_none()
