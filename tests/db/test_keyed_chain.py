"""An insider with write access to the database but not to the audit key or the checkpoint file
cannot rewrite the logs without `qtlens audit verify` exiting 1 (issue 18, finding 6).

Each attack is made as a DBA would make it (guards dropped or disabled with SQL), on SQLite and
PostgreSQL, and judged by the CLI's exit code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.cli import build_main_cli
from app.db.migrate import upgrade
from app.db.models import Intervention
from app.db.session import Database
from app.services import audit
from tests.db.test_schema_and_audit import _intervention, _seed_prediction

ROWS = 4


def _verify(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("QTLENS_DATABASE_URL", url)
    result = CliRunner().invoke(build_main_cli(), ["audit", "verify", *args])
    return result.exit_code, result.output


def _assert_tampered(url: str, monkeypatch: pytest.MonkeyPatch, message: str,
                     *args: str) -> None:
    code, output = _verify(url, monkeypatch, *args)
    assert code == 1 and message in output, output


@pytest.fixture
def logged(migrated_url: str) -> tuple[Database, int, int]:
    """A database whose interventions chain holds ``ROWS`` rows: (db, user id, prediction id)."""
    db = Database(migrated_url)
    user_id, prediction_id = _seed_prediction(db)
    for n in range(ROWS):
        with db.write() as session:
            audit.append(session, _intervention(user_id, prediction_id, 450.0 + n))
    yield db, user_id, prediction_id
    db.dispose()


def _unguard(session: sa.orm.Session, db: Database) -> None:
    """Drop the append-only guards of ``interventions``, as a DBA can."""
    if db.is_sqlite:
        for name in ("no_update", "no_delete", "no_replace"):
            session.execute(sa.text(f"DROP TRIGGER interventions_{name}"))
    else:
        session.execute(sa.text("ALTER TABLE interventions DISABLE TRIGGER USER"))


def _plain_hash(prev_hash: str, row: Intervention) -> str:
    """A hash anyone can compute: SHA-256 over the predecessor's hash and the row's content."""
    content = {c: audit._canonical_value(getattr(row, c))
               for c in (*audit._CONTENT_COLUMNS[Intervention], "seq")}
    payload = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(prev_hash.encode() + payload).hexdigest()


def test_an_untouched_log_verifies(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, _ = logged
    code, output = _verify(db.url, monkeypatch)
    assert code == 0, output
    assert f"interventions: {ROWS} rows, OK" in output


def test_tail_truncation_is_detected(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, _ = logged
    with db.write() as session:
        _unguard(session, db)
        session.execute(sa.text("DELETE FROM interventions WHERE id > 2"))
    _assert_tampered(db.url, monkeypatch, f"2 rows, but {ROWS} were checkpointed")


def test_forged_append_with_a_valid_plain_hash_is_detected(
        logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, user_id, prediction_id = logged
    with db.write() as session:
        head = session.execute(sa.select(Intervention).order_by(Intervention.id.desc())
                               .limit(1)).scalar_one()
        forged = _intervention(user_id, prediction_id, 600.0)
        forged.seq, forged.prev_hash = head.seq + 1, head.hash
        forged.hash = _plain_hash(forged.prev_hash, forged)
        session.add(forged)
    _assert_tampered(db.url, monkeypatch,
                     f"row {ROWS + 1}: content does not match its keyed hash")


def test_full_chain_rewrite_is_detected(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, user_id, prediction_id = logged
    with db.write() as session:
        _unguard(session, db)
        session.execute(sa.text("DELETE FROM interventions"))
        prev = audit.GENESIS_HASH
        for seq in range(1, ROWS + 2):  # a consistent chain, one row longer
            row = _intervention(user_id, prediction_id, 500.0 + seq)
            row.seq, row.prev_hash = seq, prev
            row.hash = prev = _plain_hash(row.prev_hash, row)
            session.add(row)
            session.flush()
    _assert_tampered(db.url, monkeypatch, "content does not match its keyed hash")


def test_replace_is_refused_by_the_database(logged) -> None:
    db, _, _ = logged
    if db.is_sqlite:
        statement = ("INSERT OR REPLACE INTO interventions SELECT * FROM interventions "
                     "WHERE id = 2")
    else:
        statement = ("INSERT INTO interventions SELECT * FROM interventions WHERE id = 2 "
                     "ON CONFLICT (id) DO UPDATE SET new_value = 999")
    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(sa.text(statement))
    if db.is_sqlite:  # a REPLACE on another unique column, under a new id, is refused too
        for seq, new_hash in (("99", "hash"), ("seq", "'f' || hash")):
            with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
                session.execute(sa.text(
                    "INSERT OR REPLACE INTO interventions (id, prediction_id, user_id, "
                    "created_at, action, concept, unit, risks_before, risks_after, source, seq, "
                    f"prev_hash, hash) SELECT 99, prediction_id, user_id, created_at, action, "
                    f"concept, unit, risks_before, risks_after, source, {seq}, prev_hash, "
                    f"{new_hash} FROM interventions WHERE id = 2"))


def test_replace_with_the_guard_dropped_is_detected(
        logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, _ = logged
    with db.write() as session:
        _unguard(session, db)
        if db.is_sqlite:
            session.execute(sa.text(
                "INSERT OR REPLACE INTO interventions (id, prediction_id, user_id, created_at, "
                "action, concept, unit, model_value, previous_value, new_value, risks_before, "
                "risks_after, source, comment, seq, prev_hash, hash) SELECT id, prediction_id, "
                "user_id, created_at, action, concept, unit, model_value, previous_value, 300, "
                "risks_before, risks_after, source, comment, seq, prev_hash, hash "
                "FROM interventions WHERE id = 2"))
        else:
            session.execute(sa.text(
                "INSERT INTO interventions SELECT * FROM interventions WHERE id = 2 "
                "ON CONFLICT (id) DO UPDATE SET new_value = 300"))
    _assert_tampered(db.url, monkeypatch, "row 2: content does not match")


def test_a_forged_checkpoint_line_is_detected(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, _ = logged
    path = Path(os.environ["QTLENS_AUDIT_CHECKPOINT_FILE"])
    with db.read() as session:
        identity = audit.chain_id(session)
    forged = {"chain": identity, "table": "interventions", "seq": 1, "head": "0" * 64,
              "at": "2026-01-01T00:00:00+00:00", "mac": "f" * 64}
    copy = path.with_name(f"forged-{identity}.jsonl")
    copy.write_text(path.read_text() + json.dumps(forged) + "\n")
    _assert_tampered(db.url, monkeypatch, "signature does not match the audit key",
                     "--checkpoints", str(copy))


def test_checkpoint_for_a_backup_then_verify_against_it(
        logged, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db, _, _ = logged
    monkeypatch.setenv("QTLENS_DATABASE_URL", db.url)
    saved = tmp_path / "backup-checkpoint.jsonl"
    result = CliRunner().invoke(build_main_cli(), ["audit", "checkpoint", "--out", str(saved)])
    assert result.exit_code == 0 and f"interventions: {ROWS} rows" in result.output
    assert _verify(db.url, monkeypatch, "--checkpoints", str(saved))[0] == 0
    with db.write() as session:
        _unguard(session, db)
        session.execute(sa.text(f"DELETE FROM interventions WHERE id = {ROWS}"))
    assert _verify(db.url, monkeypatch, "--checkpoints", str(saved))[0] == 1
    refused = CliRunner().invoke(build_main_cli(), ["audit", "checkpoint"])
    assert refused.exit_code == 1, refused.output
    assert "not checkpointing a tampered log" in refused.output


def _legacy_database(url: str, tamper: bool) -> Database:
    """A database at schema 0001 whose interventions carry the old unkeyed SHA-256 chain."""
    upgrade(url, "0001_initial")
    db = Database(url)
    with db.write() as session:
        session.execute(sa.text(
            "INSERT INTO users (id, username, pseudonym, password_hash, role, is_active, "
            "created_at) VALUES (1, 'dr_old', 'U-OLD', 'x', 'clinician', true, "
            "CURRENT_TIMESTAMP)"))
        session.execute(sa.text(
            "INSERT INTO records (id, public_id, uploaded_by, uploaded_at, source_format, fs_hz, "
            "n_samples, lead_names, duration_s, content_sha256, removed_fields, status) VALUES "
            "(1, 'ECG-OLD', 1, CURRENT_TIMESTAMP, 'wfdb', 500, 5000, '[]', 10, 'x', '[]', "
            "'new')"))
        session.execute(sa.text(
            "INSERT INTO predictions (id, record_id, created_by, created_at, model_name, "
            "model_checksum, device, latency_ms, model_output, measurements, risks) VALUES "
            "(1, 1, 1, CURRENT_TIMESTAMP, 'm', 'c', 'cpu', 1, '{}', '{}', '{}')"))
        prev = audit.GENESIS_HASH
        columns = audit._CONTENT_COLUMNS[Intervention]
        for n in range(3):
            row = _intervention(1, 1, 450.0 + n)
            row_hash = audit.legacy_row_hash(prev, row)
            values = {c: getattr(row, c) for c in columns}
            if tamper and n == 1:
                values["new_value"] = 999.0
            session.execute(sa.insert(Intervention.__table__).values(
                id=n + 1, prev_hash=prev, hash=row_hash, **values))
            prev = row_hash
    return db


@pytest.mark.parametrize("tamper", [False, True])
def test_migration_rekeys_a_verified_legacy_chain(
        database_url: str, monkeypatch: pytest.MonkeyPatch, tamper: bool) -> None:
    db = _legacy_database(database_url, tamper)
    seal = db.audit_seal
    if tamper:
        with pytest.raises(RuntimeError, match="row 2 does not verify"):
            upgrade(database_url, audit_seal=seal)
    else:
        with pytest.raises(RuntimeError, match="needs the audit key"):
            upgrade(database_url)
        upgrade(database_url, audit_seal=seal)
        code, output = _verify(database_url, monkeypatch)
        assert code == 0 and "interventions: 3 rows, OK" in output
    db.dispose()


def test_a_lost_checkpoint_file_fails_until_the_operator_seals_again(
        logged, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db, _, _ = logged
    lost = tmp_path / "new-checkpoints.jsonl"
    monkeypatch.setenv("QTLENS_AUDIT_CHECKPOINT_FILE", str(lost))
    _assert_tampered(db.url, monkeypatch, "deleting rows from the end cannot be ruled out")
    sealed = CliRunner().invoke(build_main_cli(), ["audit", "checkpoint"])
    assert sealed.exit_code == 0 and "had no checkpoint; sealing it" in sealed.output
    assert _verify(db.url, monkeypatch)[0] == 0


def test_a_deleted_chain_id_is_detected(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, _ = logged
    with db.write() as session:
        if db.is_sqlite:
            session.execute(sa.text("DROP TRIGGER audit_chain_no_delete"))
        else:
            session.execute(sa.text("ALTER TABLE audit_chain DISABLE TRIGGER USER"))
        session.execute(sa.text("DELETE FROM audit_chain"))
    _assert_tampered(db.url, monkeypatch, "0 chain ids where there must be one")


def _head_reads(db: Database) -> list[str]:
    """Collect the chain-head queries ``db`` runs from now on (``ORDER BY … id DESC``)."""
    statements: list[str] = []

    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if "DESC" in statement and "seq" in statement:
            statements.append(statement)

    return statements


def test_a_locked_transaction_reads_each_chain_head_once(logged, monkeypatch) -> None:
    db, user_id, prediction_id = logged
    reads = _head_reads(db)
    with db.write() as session:
        audit.lock_chain(session, Intervention)
        assert audit.version(session)[0] >= 0  # the audit-event head, read under the lock
        for n in range(3):
            audit.append(session, _intervention(user_id, prediction_id, 500.0 + n))
            audit.record_event(session, "test", user_id, n=n)
    # One read per chain: the appends keep the heads they make. On PostgreSQL the version was
    # read before the audit chain's lock was taken, so its append reads that head once more.
    assert len(reads) == (2 if db.is_sqlite else 3), reads
    code, output = _verify(db.url, monkeypatch)
    assert code == 0 and f"interventions: {ROWS + 3} rows, OK" in output, output


def test_a_rolled_back_append_leaves_no_remembered_head(logged, monkeypatch) -> None:
    db, user_id, prediction_id = logged
    with db._write_sessions() as session:  # one session, two transactions
        with session.begin():
            audit.lock_chain(session, Intervention)
            audit.append(session, _intervention(user_id, prediction_id, 600.0))
            session.rollback()
        with session.begin():
            audit.append(session, _intervention(user_id, prediction_id, 601.0))
    code, output = _verify(db.url, monkeypatch)
    assert code == 0 and f"interventions: {ROWS + 1} rows, OK" in output, output
