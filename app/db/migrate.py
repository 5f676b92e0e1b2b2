"""Apply the Alembic migrations programmatically (``qtlens db upgrade``, tests, start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from app.services.audit import AuditSeal

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at QTLens' migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head",
            audit_seal: AuditSeal | None = None) -> None:
    """Bring the database at ``database_url`` to ``revision`` (creating an SQLite file's folder).

    ``audit_seal`` is needed when a migration re-keys existing audit chains (0002); with it, the
    chains' heads are checkpointed once the migration has committed.
    """
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(database_url)
    config.attributes["audit_seal"] = audit_seal
    command.upgrade(config, revision)
    if audit_seal is not None and revision == "head":
        from app.db.session import Database
        from app.services.audit import write_checkpoint

        database = Database(database_url, audit_seal)
        with database.read() as session:
            write_checkpoint(session, audit_seal)
        database.dispose()
