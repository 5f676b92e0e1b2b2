"""Shared fixtures: the public data folder, fresh databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
POSTGRES_ENV = "QTLENS_TEST_DATABASE_URL"


def data_root() -> Path:
    """Where the public ECG development set lives (QTLENS_DATA_DIR, default ../shared/data)."""
    return Path(os.environ.get("QTLENS_DATA_DIR", DEFAULT_DATA_DIR))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public ECG data folder; tests needing it skip with a reason when it is absent."""
    root = data_root()
    if not (root / "MANIFEST.md").exists():
        pytest.skip(f"public ECG data not found at {root} (set QTLENS_DATA_DIR)")
    return root


@pytest.fixture(scope="session", autouse=True)
def audit_seal_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An audit key and a checkpoint file for the whole test session (servers started as
    subprocesses inherit them); checkpoints of different test databases are told apart by their
    chain ids."""
    values = {"QTLENS_AUDIT_KEY": "qtlens-test-audit-key-0123456789",
              "QTLENS_AUDIT_CHECKPOINT_FILE":
                  str(tmp_path_factory.mktemp("audit") / "checkpoints.jsonl")}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (created and dropped around the test)."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests run in CI (.ci/run)")
    import sqlalchemy as sa

    name = f"qtlens_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL on each engine (PostgreSQL skipped when not configured)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qtlens.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` with the Alembic migrations applied."""
    from app.db.migrate import upgrade

    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def real_set(data_dir: Path) -> object:
    """Every real development window at 100 Hz, 10 s (:func:`models.data.real.load_real_set`;
    built on first use, then served from the cache)."""
    from models.data.real import load_real_set

    return load_real_set(data_dir, 100.0, 10.0, workers=2)
