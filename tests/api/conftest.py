"""An in-process QTLens app (real database, real demo model) and logged-in clients per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db.migrate import upgrade
from app.db.session import Database
from app.main import create_app
from app.security import CSRF_HEADER, Role
from app.services.users import create_user
from app.settings import Settings

PASSWORD = "api-test-password"
ROLES = ("clinician", "researcher", "admin")


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test app: the given database, the shipped demo model, CPU."""
    return Settings(database_url=database_url, secret_key="test-secret", device="cpu",
                    inference_workers=1, **overrides)


def seed_users(database_url: str) -> None:
    """One user per role, called ``<role>1``."""
    db = Database(database_url)
    with db.write() as session:
        for role in ROLES:
            create_user(session, f"{role}1", PASSWORD, Role(role))
    db.dispose()


def login(client: TestClient, username: str) -> TestClient:
    """Log ``client`` in and make it send the session's CSRF token on every request."""
    client.headers.pop(CSRF_HEADER, None)
    token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD},
                           headers={CSRF_HEADER: token})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    return client


@pytest.fixture(scope="module")
def app_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file with one user per role (shared by a module's tests)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'qtlens.sqlite3'}"
    upgrade(url)
    seed_users(url)
    return url


@pytest.fixture(scope="module")
def app_client(app_database: str) -> Iterator[TestClient]:
    """The app with its lifespan running (model loaded once per module)."""
    with TestClient(create_app(make_settings(app_database))) as client:
        yield client


@pytest.fixture
def client_as(app_client: TestClient) -> Iterator[object]:
    """``client_as(role)``: a fresh client of the same app logged in as ``<role>1``."""
    opened: list[TestClient] = []

    def open_as(role: str | None) -> TestClient:
        client = TestClient(app_client.app)
        opened.append(client)
        return login(client, f"{role}1") if role else client

    yield open_as
    for client in opened:
        client.close()


def ludb_files(data_dir: Path, record: str = "1") -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart ``files`` for LUDB record ``record`` (.hea + .dat)."""
    folder = data_dir / "ludb" / "data"
    return [("files", (f"{record}{ext}", (folder / f"{record}{ext}").read_bytes(),
                       "application/octet-stream")) for ext in (".hea", ".dat")]
