"""Storage shapes (SQLAlchemy 2.0 ORM). API shapes live in :mod:`app.services.schemas`.

``interventions`` and ``audit_events`` are insert-only: database triggers refuse UPDATE, DELETE
and REPLACE on both SQLite and PostgreSQL (see the Alembic migrations), and each row carries a
keyed hash over its content and its predecessor's hash so that any edit made behind the
database's back is detected by ``qtlens audit verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES: tuple[str, ...] = ("clinician", "researcher", "admin")
RECORD_STATUSES: tuple[str, ...] = ("new", "predicted", "reviewed", "deleted")


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person who logs in. ``pseudonym`` is what exports show instead of the username."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoginSession(Base):
    """A server-side login session; the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal API token for scripts and notebooks (``Authorization: Bearer …``).

    Only the token's SHA-256 is stored; the token itself is shown once, at creation.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class Record(Base):
    """A de-identified ECG. ``public_id`` is the pseudonymous id shown and exported."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_format: Mapped[str] = mapped_column(String(32))
    fs_hz: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)
    lead_names: Mapped[list[Any]] = mapped_column(JSON)
    duration_s: Mapped[float] = mapped_column(Float)
    age_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(8), nullable=True)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    removed_fields: Mapped[list[Any]] = mapped_column(JSON)
    #: The cart's own intervals and statements (MUSE, Philips, aECG), de-identified; see
    #: :class:`models.ecg.io.device.DeviceReading`.
    device_measurements: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The signal and the original files are read only where they are used (deferred), so
    # worklists, predictions and interventions do not carry hundreds of kB per record.
    signal_npy: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    original_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True,
                                                         deferred=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    #: Pseudonymous subject series (``SER-…``, ours) the record belongs to; ``None`` = alone.
    series_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    #: The series' baseline ECG (change concepts of the other records are against it).
    is_baseline: Mapped[bool] = mapped_column(default=False, server_default=false())
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewed_by], lazy="joined")
    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="record", order_by="Prediction.id"
    )


class Prediction(Base):
    """One run of measurement + model on a record, with everything needed to recompute risk."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_name: Mapped[str] = mapped_column(String(128))
    model_checksum: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str] = mapped_column(String(32))
    latency_ms: Mapped[float] = mapped_column(Float)
    model_output: Mapped[dict[str, Any]] = mapped_column(JSON)
    measurements: Mapped[dict[str, Any]] = mapped_column(JSON)
    risks: Mapped[dict[str, Any]] = mapped_column(JSON)

    record: Mapped[Record] = relationship(back_populates="predictions")


class Intervention(Base):
    """A clinician's override (or revert) of one concept of one prediction. Insert-only."""

    __tablename__ = "interventions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(16))  # "override" | "revert"
    concept: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    model_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    previous_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    new_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    risks_before: Mapped[dict[str, Any]] = mapped_column(JSON)
    risks_after: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="typed")  # typed | caliper | suggestion
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A fiducial move: {"before": {name: ms}, "after": {name: ms}, "concepts": {concept: value}}
    # (positions in ms from the median beat's R peak); NULL for every other event.
    fiducials: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A typed derived value (a QTc, J-Tpeak_c, heart rate) stored as the primary ``concept`` it
    # set: the concept and value the clinician typed; NULL for every other event.
    typed_concept: Mapped[str | None] = mapped_column(String(64), nullable=True)
    typed_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    seq: Mapped[int] = mapped_column(Integer)  # position in the chain: 1, 2, …
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_interventions_created_at", "created_at"),
                      Index("uq_interventions_seq", "seq", unique=True))


class AuditEvent(Base):
    """A security- or data-relevant event (login, upload, prediction, export…). Insert-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    event_type: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    seq: Mapped[int] = mapped_column(Integer)  # position in the chain: 1, 2, …
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("uq_audit_events_seq", "seq", unique=True),)


class AuditChain(Base):
    """The database's one chain id (random, set by migration 0002): checkpoints outside the
    database name it, and every keyed row hash covers it. Insert-only."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
