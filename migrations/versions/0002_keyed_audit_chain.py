"""Keyed audit chains: a chain id, a position per row, HMAC-SHA256 hashes, REPLACE refused.

Adds ``audit_chain`` (the database's random chain id, named by the checkpoints kept outside the
database) and ``seq`` (the row's position, unique) to ``interventions`` and ``audit_events``.
An existing database is re-keyed: its unkeyed SHA-256 chains are checked first (the migration
stops, naming the row, when one does not verify: re-keying must not launder a tampered log),
then every row gets its ``seq`` and keyed hash. That needs the audit key, which
:func:`app.db.migrate.upgrade` passes in (``qtlens db upgrade`` reads it from the settings).

SQLite's ``INSERT OR REPLACE`` deletes the conflicting row without firing DELETE triggers
(unless ``recursive_triggers`` is on), so a BEFORE INSERT trigger refuses any insert whose id,
hash or position (any unique column) is already present. On PostgreSQL ``INSERT … ON CONFLICT DO UPDATE`` fires the row-level
UPDATE trigger of 0001 and is refused already.

Revision ID: 0002_keyed_audit_chain
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session, load_only

from app.services.audit import AuditSetupError, ChainTampered

if TYPE_CHECKING:
    from app.services.audit import AuditSeal

revision = "0002_keyed_audit_chain"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

CHAINED_TABLES = ("interventions", "audit_events")


def _refuse(table: str, action: str) -> str:
    return f"SELECT RAISE(ABORT, '{table} is append-only: {action} refused')"


def upgrade() -> None:
    bind = op.get_bind()
    seal = op.get_context().config.attributes.get("audit_seal")
    for table in CHAINED_TABLES:  # before any DDL: SQLite's is not transactional
        if seal is None and bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first():
            raise AuditSetupError(f"{table} holds rows: re-keying them needs the audit key "
                               "(run `qtlens db upgrade`, which reads QTLENS_AUDIT_KEY or "
                               "var/audit_key)")
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain_id", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    dialect = bind.dialect.name
    identity = uuid.uuid4().hex
    bind.execute(sa.text("INSERT INTO audit_chain (id, chain_id, created_at) "
                         "VALUES (1, :chain, CURRENT_TIMESTAMP)"), {"chain": identity})
    for table in CHAINED_TABLES:
        op.add_column(table, sa.Column("seq", sa.Integer(), nullable=False,
                                       server_default="0"))
    if seal is not None:
        _rekey(bind, seal, identity)
    for table in CHAINED_TABLES:
        op.create_index(f"uq_{table}_seq", table, ["seq"], unique=True)
    if dialect == "sqlite":
        for table in (*CHAINED_TABLES, "audit_chain"):
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id"
                + (" OR hash = NEW.hash OR seq = NEW.seq" if table != "audit_chain"
                   else " OR chain_id = NEW.chain_id")
                + f") BEGIN {_refuse(table, 'REPLACE')}; END"
            )
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_chain_no_{action.lower()} BEFORE {action} ON "
                       f"audit_chain BEGIN {_refuse('audit_chain', action)}; END")
    else:
        op.execute("CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON "
                   "audit_chain FOR EACH ROW EXECUTE FUNCTION qtlens_refuse_change()")
        op.execute("CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain "
                   "FOR EACH STATEMENT EXECUTE FUNCTION qtlens_refuse_change()")


def _set_update_guard(bind: sa.Connection, table: str, enabled: bool) -> None:
    """Lift (or restore) the UPDATE refusal of 0001 on ``table`` for the re-keying."""
    if bind.dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                   f"BEGIN {_refuse(table, 'UPDATE')}; END" if enabled
                   else f"DROP TRIGGER {table}_no_update")
    else:
        op.execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} "
                   f"TRIGGER {table}_append_only")


def _rekey(bind: sa.Connection, seal: AuditSeal, identity: str) -> None:
    """Check the unkeyed chains and give every row its position and keyed hash."""
    from app.db.models import AuditEvent, Intervention
    from app.services.audit import GENESIS_HASH, legacy_row_hash, row_hash

    session = Session(bind=bind, autoflush=False)  # read-only: never flushed
    for model in (Intervention, AuditEvent):
        table = model.__tablename__
        if session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0:
            continue
        _set_update_guard(bind, table, enabled=False)
        legacy_prev = new_prev = GENESIS_HASH
        # The live models may have columns added by later revisions: read only today's.
        present = {column["name"] for column in sa.inspect(bind).get_columns(table)}
        loaded = [getattr(model, name) for name in model.__table__.columns.keys() if name in present]  # noqa: SIM118 (a ColumnCollection iterates columns)
        rows = session.execute(sa.select(model).options(load_only(*loaded))
                               .order_by(model.id)).scalars().all()
        for seq, row in enumerate(rows, start=1):
            if row.prev_hash != legacy_prev or legacy_row_hash(row.prev_hash, row) != row.hash:
                raise ChainTampered(f"{table} row {row.id} does not verify under the unkeyed "
                                   "chain: refusing to re-key a tampered log")
            legacy_prev = row.hash
            row.seq = seq
            new_hash = row_hash(seal.key, identity, new_prev, row)
            bind.execute(sa.update(model.__table__).where(model.__table__.c.id == row.id)
                         .values(seq=seq, prev_hash=new_prev, hash=new_hash))
            new_prev = new_hash
        _set_update_guard(bind, table, enabled=True)
    session.close()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in (*CHAINED_TABLES, "audit_chain"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
    for table in CHAINED_TABLES:
        op.drop_index(f"uq_{table}_seq", table_name=table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN seq")  # in place: 0001's triggers stay
    op.drop_table("audit_chain")
