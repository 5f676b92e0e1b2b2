"""Storing and reading de-identified ECG records.

The de-identified signal is stored in the database itself (zlib-compressed ``.npy`` bytes), not as a
file beside it: the upload and its row commit in one transaction, so nothing is ever half-stored,
and several stateless API workers share one store (PostgreSQL) without a shared disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from app.db.models import Prediction, Record, User
from app.services.audit import as_utc, record_event, utc_now
from app.services.schemas import RecordOut
from app.services.users import shown_name
from models.ecg.io import IngestResult, UploadedFile, read_upload
from models.ecg.io.checks import check_file_count
from models.ecg.io.device import QUANTITIES
from models.ecg.record import Ecg
from models.ecg.stored import StoredEcg, encode_signal

#: The upload readers the record routes call, through this service (routes never reach past it).
__all__ = ["Ecg", "IngestResult", "Record", "Session", "StoredEcg", "UploadedFile",
           "check_file_count", "read_upload"]

if TYPE_CHECKING:
    from app.services.predictions import Headline

class RecordNotFound(LookupError):
    """No record has this pseudonymous id (or it was deleted)."""


def new_public_id() -> str:
    """A pseudonymous record id such as ``ECG-7K3M9Q2P`` (40 random bits)."""
    return "ECG-" + base64.b32encode(secrets.token_bytes(5)).decode("ascii")


def content_digest(files: Sequence[UploadedFile]) -> str:
    """SHA-256 over the uploaded files' bytes, in a name-independent order."""
    digest = hashlib.sha256()
    for data in sorted(f.data for f in files):
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def store_record(
    session: Session,
    user: User,
    result: IngestResult,
    files: Sequence[UploadedFile],
    keep_original_bytes: bool,
) -> Record:
    """Insert a de-identified record (and its audit event) in the caller's transaction."""
    ecg = result.ecg
    record = Record(
        public_id=new_public_id(),
        uploaded_by=user.id,
        uploaded_at=utc_now(),
        source_format=result.format,
        fs_hz=float(ecg.fs_hz),
        n_samples=ecg.n_samples,
        lead_names=list(ecg.lead_names),
        duration_s=float(ecg.duration_s),
        age_years=ecg.age_years,
        sex=ecg.sex,
        content_sha256=content_digest(files),
        removed_fields=list(result.removed_fields),
        device_measurements=result.device.to_dict() if result.device else None,
        signal_npy=encode_signal(ecg.signal_mv),
        original_bytes=_pack_originals(files) if keep_original_bytes else None,
        status="new",
    )
    session.add(record)
    session.flush()
    record_event(
        session, "upload", user.id, record=record.public_id, format=result.format,
        removed_fields=list(result.removed_fields),
    )
    return record


def _pack_originals(files: Sequence[UploadedFile]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, **{f"file_{i}": np.frombuffer(f.data, dtype=np.uint8) for i, f in enumerate(files)}
    )
    return buffer.getvalue()


def get_record(session: Session, public_id: str, with_signal: bool = False) -> Record:
    """The live record with this pseudonymous id; :class:`RecordNotFound` otherwise.
    ``with_signal``: its (deferred) signal in the same query, for :func:`stored_ecg`."""
    query = select(Record).where(Record.public_id == public_id, Record.status != "deleted")
    if with_signal:
        query = query.options(undefer(Record.signal_npy))
    record = session.execute(query).scalar_one_or_none()
    if record is None:
        raise RecordNotFound(public_id)
    return record


def device_reading_view(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cart's stored reading with each value's label and unit, in registry order (the API's
    ``DeviceReadingOut``); ``None`` for a record without one."""
    if not stored:
        return None
    values = stored.get("values") or {}
    return {
        "source": stored.get("source", ""),
        "values": [{"name": name, "label": quantity.label, "unit": quantity.unit,
                    "value": values[name]}
                   for name, quantity in QUANTITIES.items() if name in values],
        "statements": list(stored.get("statements") or []),
    }


def stored_ecg(record: Record) -> StoredEcg:
    """The stored record, its signal still compressed (for a worker process to decode)."""
    if record.signal_npy is None:
        raise RecordNotFound(record.public_id)
    return StoredEcg(
        signal_blob=record.signal_npy,
        fs_hz=record.fs_hz,
        lead_names=tuple(record.lead_names),
        age_years=record.age_years,
        sex=record.sex,  # type: ignore[arg-type]
        source_format=record.source_format,
    )


def record_ecg(record: Record) -> Ecg:
    """The stored record as an :class:`Ecg`."""
    return stored_ecg(record).ecg()


def latest_predictions(session: Session, records: Sequence[Record]) -> list[Prediction]:
    """The newest prediction of each of ``records`` that has one (one query)."""
    if not records:
        return []
    newest = (
        select(func.max(Prediction.id))
        .where(Prediction.record_id.in_([r.id for r in records]))
        .group_by(Prediction.record_id)
    )
    return list(session.execute(select(Prediction).where(Prediction.id.in_(newest))).scalars())


def latest_prediction(session: Session, record: Record) -> Prediction | None:
    """The newest prediction of ``record``, if any."""
    return next(iter(latest_predictions(session, [record])), None)


def list_records(
    session: Session,
    status: str | None,
    newest_first: bool,
    limit: int,
    offset: int,
) -> list[Record]:
    """A page of the live records, optionally of one status."""
    query = select(Record).where(Record.status != "deleted")
    if status:
        query = query.where(Record.status == status)
    order = Record.id.desc() if newest_first else Record.id.asc()
    return list(session.execute(query.order_by(order).limit(limit).offset(offset)).scalars())


def record_out(record: Record, headline: Headline, primary_qtc: str, viewer: User) -> RecordOut:
    """The API view of a record with the headline of its latest prediction (values in force),
    its reviewer named as ``viewer`` may see them."""
    return RecordOut(
        id=record.public_id,
        uploaded_at=record.uploaded_at,
        source_format=record.source_format,
        fs_hz=record.fs_hz,
        n_leads=len(record.lead_names),
        lead_names=list(record.lead_names),
        duration_s=record.duration_s,
        age_years=record.age_years,
        sex=record.sex,  # type: ignore[arg-type]
        status=record.status,
        reviewed_by=(shown_name(viewer, record.reviewer.username, record.reviewer.pseudonym)
                     if record.reviewer is not None else None),
        reviewed_at=record.reviewed_at,
        removed_fields=list(record.removed_fields),
        latest_prediction_id=headline.prediction_id,
        series_id=record.series_id,
        is_baseline=record.is_baseline,
        qtc_name=primary_qtc,
        qtc_ms=headline.qtc_ms,
        risks=headline.risks,
        risk_bands=headline.risk_bands,
        risk_points=headline.risk_points,
        adjusted=headline.adjusted,
        device=device_reading_view(record.device_measurements),
    )


def delete_record(session: Session, record: Record, admin: User) -> None:
    """Purge the signal of ``record`` and mark it deleted; the audit trail stays intact."""
    record.signal_npy = None
    record.original_bytes = None
    record.status = "deleted"
    record_event(session, "record_deleted", admin.id, record=record.public_id)


class RecordLocked(RuntimeError):
    """The record was reviewed: its values are locked until a clinician reopens it."""


class NotReviewed(RuntimeError):
    """A reopen was asked for a record that is not reviewed."""


def reviewer_name(record: Record) -> str | None:
    """The username of whoever reviewed ``record``, if it is reviewed."""
    return record.reviewer.username if record.reviewer is not None else None


def ensure_editable(record: Record) -> None:
    """Refuse any change to ``record``'s values (override, revert, caliper, new prediction)
    while it is reviewed: a review locks the record for every user until an explicit reopen.

    Raises:
        RecordLocked: with a sentence naming who reviewed it and when.
    """
    if record.status == "reviewed":
        when = as_utc(record.reviewed_at).isoformat(timespec="minutes") if record.reviewed_at \
            else "an unknown time"
        raise RecordLocked(
            f"record {record.public_id} was reviewed by {reviewer_name(record) or 'a clinician'} "
            f"at {when} and is locked; reopen it to make changes"
        )


def mark_reviewed(session: Session, record: Record, user: User) -> None:
    """Mark ``record`` reviewed by ``user`` (audited); this locks its values.

    Raises:
        RecordLocked: it is already reviewed (the first review stands until a reopen).
    """
    ensure_editable(record)
    record.status = "reviewed"
    record.reviewed_by = user.id
    record.reviewed_at = utc_now()
    session.flush()
    session.expire(record, ["reviewer"])  # loaded again, in this session, when read
    record_event(session, "record_reviewed", user.id, record=record.public_id)


def reopen(session: Session, record: Record, user: User) -> None:
    """Unlock a reviewed record for edits again (audited as ``record_reopened``: who, when, and
    whose review it undid). The record goes back to *predicted* (or *new* without a prediction).

    Raises:
        NotReviewed: the record is not reviewed, so there is nothing to reopen.
    """
    if record.status != "reviewed":
        raise NotReviewed(f"record {record.public_id} is not reviewed; nothing to reopen")
    record_event(session, "record_reopened", user.id, record=record.public_id,
                 reviewed_by=record.reviewed_by,
                 reviewed_at=as_utc(record.reviewed_at).isoformat() if record.reviewed_at else None)
    record.status = "predicted" if latest_predictions(session, [record]) else "new"
    record.reviewed_by = None
    record.reviewed_at = None
    session.flush()
    session.expire(record, ["reviewer"])
