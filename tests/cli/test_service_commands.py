"""The service half of the ``qtlens`` command: clear messages and exit codes, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import build_main_cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke ``qtlens`` with a fresh SQLite file as its database."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("QTLENS_DATABASE_URL", url)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(build_main_cli(), list(args), input=stdin)

    invoke.url = url
    return invoke


def test_upgrade_users_and_audit_verify(run) -> None:
    assert run("db", "upgrade").exit_code == 0
    added = run("users", "add", "dr_b", "--role", "clinician", "--password-stdin",
                stdin="long enough password\n")
    assert added.exit_code == 0 and "created clinician dr_b" in added.output
    again = run("users", "add", "dr_b", "--role", "clinician", "--password-stdin",
                stdin="long enough password\n")
    assert again.exit_code == 2 and "already exists" in again.output
    short = run("users", "add", "dr_c", "--role", "admin", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    listed = run("users", "list")
    assert "dr_b\tclinician\tU-" in listed.output
    verified = run("audit", "verify")
    assert verified.exit_code == 0 and "audit_events: 1 rows, OK" in verified.output

    engine = sa.create_engine(run.url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        connection.execute(sa.text("UPDATE audit_events SET event_type = 'login'"))
    engine.dispose()
    tampered = run("audit", "verify")
    assert tampered.exit_code == 1 and "TAMPERED" in tampered.output


def test_bootstrap_creates_one_admin_once(run) -> None:
    run("db", "upgrade")
    first = run("users", "bootstrap", "--url", "http://127.0.0.1:8123")
    assert first.exit_code == 0 and "created user 'admin' with password" in first.output
    assert "Log in at http://127.0.0.1:8123 " in first.output
    second = run("users", "bootstrap")
    assert second.exit_code == 0 and second.output == ""


def test_database_problems_are_one_line_errors(run, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_revision = run("db", "upgrade", "no-such-revision")
    assert bad_revision.exit_code == 2
    assert "error: database: Can't locate revision" in bad_revision.output
    monkeypatch.setenv("QTLENS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    unreachable = run("users", "list")
    assert unreachable.exit_code == 2 and "error: database:" in unreachable.output
    monkeypatch.setenv("QTLENS_DEVICE", "tpu")
    bad_setting = run("users", "list")
    assert bad_setting.exit_code == 2 and "invalid configuration" in bad_setting.output


@pytest.mark.parametrize("username", ["<b>dr</b>", "dr\nsmith", "dr smith", "x" * 65])
def test_users_add_validates_usernames_like_the_api(run, username: str) -> None:
    run("db", "upgrade")
    refused = run("users", "add", username, "--role", "clinician", "--password-stdin",
                  stdin="violet lantern 73 ridge\n")
    assert refused.exit_code == 2, refused.output
    assert "username" in refused.output and "Traceback" not in refused.output
    assert username not in run("users", "list").output


def test_the_audit_key_file_is_created_private_and_reused(run, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "var" / "audit_key"
    monkeypatch.delenv("QTLENS_AUDIT_KEY")
    monkeypatch.setenv("QTLENS_AUDIT_KEY_FILE", str(key_file))
    assert run("db", "upgrade").exit_code == 0
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_text()) >= 32
    key = key_file.read_text()
    assert run("users", "add", "dr_k", "--role", "clinician", "--password-stdin",
               stdin="violet lantern 73 ridge\n").exit_code == 0
    assert key_file.read_text() == key and run("audit", "verify").exit_code == 0
    key_file.write_text("another key, not the one that signed the rows")
    assert run("audit", "verify").exit_code == 1


def test_an_unwritable_checkpoint_file_is_a_one_line_error(run, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("QTLENS_AUDIT_CHECKPOINT_FILE", str(blocker / "checkpoints.jsonl"))
    failed = run("db", "upgrade")
    assert failed.exit_code == 2 and failed.output.startswith("error: audit log: ")
    assert "a-file" in failed.output and len(failed.output.splitlines()) == 1
