"""Schema, append-only triggers and the hash chains, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import DBAPIError

from app.db.models import AuditEvent, Base, Intervention, Prediction, Record
from app.db.session import Database
from app.security import Role
from app.services import audit
from app.services.users import create_user
from tests.db.concurrency import errors_in_threads

APPEND_ONLY = ("interventions", "audit_events")


def test_migration_matches_the_orm_models(migrated_url: str) -> None:
    engine = sa.create_engine(migrated_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def _seed_prediction(db: Database) -> tuple[int, int]:
    """A user, a record and a prediction to hang interventions on: (user id, prediction id)."""
    with db.write() as session:
        user = create_user(session, "dr_a", "correct horse battery", Role.CLINICIAN)
        record = Record(
            public_id="ECG-TEST0001", uploaded_by=user.id, uploaded_at=audit.utc_now(),
            source_format="wfdb", fs_hz=500.0, n_samples=5000, lead_names=["I"],
            duration_s=10.0, age_years=50, sex="female", content_sha256="0" * 64,
            removed_fields=[], signal_npy=b"", status="new",
        )
        session.add(record)
        session.flush()
        prediction = Prediction(
            record_id=record.id, created_by=user.id, created_at=audit.utc_now(),
            model_name="m", model_checksum="c" * 64, device="cpu", latency_ms=1.0,
            model_output={}, measurements={}, risks={"lqts_risk": 0.5},
        )
        session.add(prediction)
        session.flush()
        return user.id, prediction.id


def _intervention(user_id: int, prediction_id: int, value: float) -> Intervention:
    return Intervention(
        prediction_id=prediction_id, user_id=user_id, created_at=audit.utc_now(),
        action="override", concept="qt", unit="ms", model_value=400.0, previous_value=400.0,
        new_value=value, risks_before={"lqts_risk": 0.5}, risks_after={"lqts_risk": 0.7},
        source="typed", comment=None,
    )


def test_append_only_tables_refuse_update_and_delete(migrated_url: str) -> None:
    db = Database(migrated_url)
    user_id, prediction_id = _seed_prediction(db)
    with db.write() as session:
        audit.append(session, _intervention(user_id, prediction_id, 480.0))
    for table in APPEND_ONLY:
        for statement in (f"UPDATE {table} SET prev_hash = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
                session.execute(sa.text(statement))
    with db.read() as session:
        assert session.execute(sa.select(sa.func.count(Intervention.id))).scalar_one() == 1
    db.dispose()


def _disable_protection(db: Database, table: str) -> str:
    """What a DBA with direct access would do to rewrite history: drop the guard."""
    if db.is_sqlite:
        return f"DROP TRIGGER {table}_no_update"
    return f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"


def test_chain_verifies_and_detects_tampering(migrated_url: str) -> None:
    db = Database(migrated_url)
    user_id, prediction_id = _seed_prediction(db)
    for value in (460.0, 470.0, 480.0):
        with db.write() as session:
            audit.append(session, _intervention(user_id, prediction_id, value))
    with db.read() as session:
        reports = audit.verify_chains(session)
    assert [r.ok for r in reports] == [True, True]
    assert reports[0].rows == 3 and reports[1].rows >= 1  # user_created event

    with db.write() as session:
        session.execute(sa.text(_disable_protection(db, "interventions")))
        session.execute(sa.text("UPDATE interventions SET new_value = 440 WHERE id = 2"))
    with db.read() as session:
        report = audit.verify_chains(session)[0]
    assert not report.ok
    assert any("row 2" in p and "edited" in p for p in report.problems)
    db.dispose()


def test_deleted_row_breaks_the_chain(migrated_url: str) -> None:
    db = Database(migrated_url)
    _seed_prediction(db)
    with db.write() as session:
        for n in range(3):
            audit.record_event(session, "probe", None, n=n)
    with db.write() as session:
        if db.is_sqlite:
            session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
        else:
            session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        session.execute(sa.text(
            "DELETE FROM audit_events WHERE id = (SELECT MIN(id) + 1 FROM audit_events)"))
    with db.read() as session:
        report = audit.verify_chains(session)[1]
    assert report.table == AuditEvent.__tablename__
    assert any("deleted, inserted or reordered" in p for p in report.problems)
    db.dispose()


def test_concurrent_appends_keep_one_linear_chain(migrated_url: str) -> None:
    db = Database(migrated_url)
    user_id, prediction_id = _seed_prediction(db)

    def writer(offset: int) -> None:
        for n in range(10):
            with db.write() as session:
                audit.append(session, _intervention(user_id, prediction_id, offset + n))

    assert errors_in_threads(writer, (100 * t for t in range(4))) == []
    with db.read() as session:
        report = audit.verify_chains(session)[0]
        prev_hashes = session.execute(sa.select(Intervention.prev_hash)).scalars().all()
    assert report.ok and report.rows == 40
    assert len(set(prev_hashes)) == 40  # no two rows share a predecessor: no fork
    db.dispose()
