"""A real QTLens server process on loopback, and a Debian chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT, child_env, free_port, wait_for

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("QTLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PASSWORD = "e2e-password-123"


@dataclass(frozen=True)
class Server:
    """A running server: its base URL, environment and the users created for the test."""

    base_url: str
    env: dict[str, str]
    database_url: str


def qtlens(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the ``qtlens`` command (as ``python -m app``) and return its output."""
    done = subprocess.run([sys.executable, "-m", "app", *args], check=False, env=env, input=stdin,
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"qtlens {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Migrate a fresh SQLite file, create one user per role, serve on a free port."""
    folder = tmp_path_factory.mktemp("server")
    database_url = f"sqlite:///{folder / 'qtlens.sqlite3'}"
    # Every browser test logs in afresh from 127.0.0.1: more than the default 10 logins a minute
    # when the whole e2e folder runs (the limiter itself is tested in tests/api).
    env = child_env(QTLENS_DATABASE_URL=database_url, QTLENS_SECRET_KEY="e2e-secret-key",
                    QTLENS_LOGIN_RATE_PER_MINUTE="120")
    qtlens(env, "db", "upgrade")
    for role in ("clinician", "researcher", "admin"):
        qtlens(env, "users", "add", f"{role}1", "--role", role, "--password-stdin",
               stdin=PASSWORD + "\n")
    port = free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base_url}/health", process)
        yield Server(base_url=base_url, env=env, database_url=database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(folder / "server.log", ARTIFACTS / "e2e-server.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian chromium (skipped with a reason when it is not installed).

    Module-scoped: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is open, which would break later tests that call ``asyncio.run``."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: `make test` installs Debian chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page_problems() -> list[str]:
    """Console errors and page errors collected during a test (must stay empty)."""
    return []


def watch(page: object, problems: list[str]) -> object:
    """Record console errors (CSP violations included) and uncaught page errors."""
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return page


def open_upload(browser: object, server: Server, paths: list[Path], problems: list[str],
                viewport: dict[str, int] | None = None,
                timeout_ms: int = 60_000) -> tuple[object, object]:
    """Log in as ``clinician1`` in a fresh browser context (``viewport``, default 1366 × 900),
    upload the ECG files ``paths`` and wait for the record page's risk and tracing.

    Returns:
        ``(browser context, page)``; console and page errors go to ``problems``.
    """
    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900})
    page = watch(context.new_page(), problems)
    page.set_default_timeout(timeout_ms)
    page.goto(f"{server.base_url}/login")
    page.fill("input[name=username]", "clinician1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/worklist")
    page.set_input_files("[data-testid=file-input]", [str(path) for path in paths])
    page.wait_for_url("**/records/ECG-*")
    page.wait_for_selector("[data-testid=risk-lqts_risk]")
    page.wait_for_selector("#ecg-plot .main-svg")
    return context, page


def open_uploaded_record(browser: object, server: Server, data_dir: Path, record: str,
                         problems: list[str], timeout_ms: int = 60_000) -> tuple[object, object]:
    """:func:`open_upload` of LUDB ``record`` (its ``.hea`` and ``.dat``)."""
    folder = data_dir / "ludb" / "data"
    return open_upload(browser, server, [folder / f"{record}.hea", folder / f"{record}.dat"],
                       problems, timeout_ms=timeout_ms)
