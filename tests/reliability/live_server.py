"""A real QTLens server process on loopback, for the reliability tests and the service benchmarks.

:class:`LiveServer` runs ``python -m app serve`` (uvicorn, one process) on a free port against a
given database, and can stop it, ``kill -9`` it and start it again on the same database. Clients
log in as ``<role>1`` (session cookie and CSRF header) or carry a personal API token.
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import httpx

from app.security import Role
from tests.api.conftest import PASSWORD, ROLES, login, seed_users
from tests.processes import REPO_ROOT, child_env, free_port, wait_for

__all__ = ["PASSWORD", "ROLES", "LiveServer", "api_tokens", "bearer_client", "prepare_database",
           "running_server"]

#: Seconds a client waits for one response before it counts as a failure.
CLIENT_TIMEOUT_S = 60.0


def prepare_database(database_url: str) -> None:
    """Apply the migrations and add one user per role (``<role>1``, password ``PASSWORD``)."""
    from app.db.migrate import upgrade

    upgrade(database_url)
    seed_users(database_url)


@functools.cache
def _password_hash() -> str:
    """One argon2id hash of :data:`PASSWORD` (about 0.2 s to compute on these CPUs)."""
    from app.security import hash_password

    return hash_password(PASSWORD)


def api_tokens(database_url: str, role: Role, count: int) -> dict[str, str]:
    """``count`` new users of ``role`` with a personal API token each: username → token.

    These users authenticate with their tokens only, so they share one hash of
    :data:`PASSWORD` (a real argon2id hash: a login with it still works) instead of paying
    argon2's deliberate cost once per user — 50 users took about 8 s of each load test."""
    from app.db.session import Database
    from app.services.users import create_api_token, create_user

    database = Database(database_url)
    tokens = {}
    with database.write() as session, mock.patch("app.services.users.hash_password",
                                                 return_value=_password_hash()):
        for index in range(count):
            user = create_user(session, f"{role.value}-{index}-{secrets.token_hex(3)}",
                               PASSWORD, role)
            tokens[user.username] = create_api_token(session, user, "reliability", 1)[1]
    database.dispose()
    return tokens


@dataclass
class LiveServer:
    """One ``python -m app serve`` process on a free loopback port.

    Attributes:
        database_url: the database it serves (already migrated, see :func:`prepare_database`).
        folder: where its log goes.
        settings: extra ``QTLENS_*`` environment variables (e.g. rate limits, workers).
    """

    database_url: str
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the server and of the ``qtlens`` commands run against its data."""
        return child_env(QTLENS_DATABASE_URL=self.database_url,
                         QTLENS_SECRET_KEY="reliability-secret-key", **self.settings)

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None, "the server is not running"
        return self.process.pid

    @property
    def log_path(self) -> Path:
        """The server's stdout and stderr."""
        return self.folder / f"server-{self.port}.log"

    def start(self, timeout_s: float = 120.0) -> LiveServer:
        """Start the process and wait until ``/health`` answers 200."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(self.port)],
                env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(f"{self.base_url}/health", self.process, timeout_s)
        return self

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), killing after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9``: no shutdown handler, no flush, open transactions cut off."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def is_alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident set size of the server process (``VmRSS`` in ``/proc/<pid>/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS in /proc/{self.pid}/status")

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server log (for assertion messages)."""
        return self.log_path.read_text(errors="replace")[-n_chars:]

    def client(self, role: str | None = None) -> httpx.Client:
        """A client logged in as ``<role>1`` (cookie + CSRF header), anonymous for ``None``."""
        client = httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT_S)
        return login(client, f"{role}1") if role else client

    def audit_verify(self) -> subprocess.CompletedProcess[str]:
        """``python -m app audit verify`` against the server's database (exit code and output)."""
        return subprocess.run([sys.executable, "-m", "app", "audit", "verify"], env=self.env,
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                              check=False)


def bearer_client(server: LiveServer, role: str, name: str = "reliability") -> httpx.Client:
    """A client carrying a fresh personal API token of ``<role>1`` (no cookie, no CSRF)."""
    session_client = server.client(role)
    try:
        response = session_client.post("/api/v1/me/tokens", json={"name": name})
    finally:
        session_client.close()
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    return httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT_S,
                        headers={"Authorization": f"Bearer {token}"})


@contextmanager
def running_server(database_url: str, folder: Path, **settings: str) -> Iterator[LiveServer]:
    """Prepare ``database_url``, start a server on it, and stop it afterwards.

    ``settings`` are ``QTLENS_*`` variables without the prefix, e.g. ``INFERENCE_WORKERS="2"``.
    """
    prepare_database(database_url)
    server = LiveServer(database_url, folder,
                        {f"QTLENS_{name.upper()}": value for name, value in settings.items()})
    server.start()
    try:
        yield server
    finally:
        server.stop()
