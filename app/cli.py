"""The ``qtlens`` command: service commands here, research commands from :mod:`models.cli`."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.security import Role
from models.cli import build_cli

if TYPE_CHECKING:
    from app.db.session import Database
    from app.settings import Settings

db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
users_cli = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_cli = typer.Typer(help="The tamper-evident logs.", no_args_is_help=True)


def _settings() -> Settings:
    """The service settings from the environment; a clear CLI error when they are invalid."""
    from pydantic import ValidationError

    from app.settings import Settings

    try:
        return Settings()
    except ValidationError as error:
        typer.echo(f"error: invalid configuration: {error}", err=True)
        raise typer.Exit(2) from None


def _database() -> Database:
    """The configured database (imported lazily so `qtlens --help` stays instant)."""
    from app.db.session import Database

    return Database(_settings().database_url)


@contextmanager
def _clear_database_errors() -> Iterator[None]:
    """Turn database and migration failures into one-line CLI errors (exit 2)."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from app.services.audit import AuditSetupError, ChainTampered

    try:
        yield
    except (AuditSetupError, ChainTampered) as error:
        typer.echo(f"error: audit log: {error}", err=True)
        raise typer.Exit(2) from None
    except (SQLAlchemyError, CommandError) as error:
        text = str(error).strip()
        typer.echo(f"error: database: {text.splitlines()[0] if text else repr(error)}", err=True)
        raise typer.Exit(2) from None


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Alembic revision")] = "head",
) -> None:
    """Create or migrate the database schema (SQLite file or QTLENS_DATABASE_URL)."""
    from app.db.migrate import upgrade
    from app.services.audit import seal_from_settings

    settings = _settings()
    with _clear_database_errors():
        upgrade(settings.database_url, revision, seal_from_settings(settings))
    typer.echo(f"database at revision {revision}")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    env_password = os.environ.get("QTLENS_NEW_USER_PASSWORD")
    if env_password:
        return env_password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option("--role", help="clinician, researcher or admin")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Create a user (password prompted, or from --password-stdin / QTLENS_NEW_USER_PASSWORD)."""
    from app.services.users import UserError, create_user

    password = _read_password(password_stdin)
    try:
        with _clear_database_errors(), _database().write() as session:
            user = create_user(session, username, password, role)
            pseudonym = user.pseudonym
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {role.value} {username} (pseudonym {pseudonym})")


@users_cli.command("bootstrap")
def users_bootstrap(
    url: Annotated[
        str, typer.Option(help="Where the app will be served (shown in the first-start message).")
    ] = "http://127.0.0.1:8000",
) -> None:
    """When no user exists yet, create 'admin' with a random password and print it once."""
    from sqlalchemy import func, select

    from app.db.models import User
    from app.services.users import create_user

    with _clear_database_errors(), _database().write() as session:
        if session.execute(select(func.count(User.id))).scalar_one() > 0:
            return
        password = secrets.token_urlsafe(12)
        create_user(session, "admin", password, Role.ADMIN)
    typer.echo(
        "\n  First start: created user 'admin' with password "
        f"{password}\n  Log in at {url} and create clinician/researcher accounts"
        " (Admin page or `qtlens users add`).\n"
    )


@users_cli.command("list")
def users_list() -> None:
    """List users (username, role, pseudonym, active)."""
    from sqlalchemy import select

    from app.db.models import User

    with _clear_database_errors(), _database().read() as session:
        for user in session.execute(select(User).order_by(User.id)).scalars():
            typer.echo(f"{user.username}\t{user.role}\t{user.pseudonym}\t"
                       f"{'active' if user.is_active else 'inactive'}")


CheckpointOption = Annotated[Path | None, typer.Option(
    "--checkpoints", help="Checkpoint file to compare with (default QTLENS_AUDIT_CHECKPOINT_FILE; "
    "e.g. the one saved with a backup).")]


@audit_cli.command("verify")
def audit_verify(checkpoints: CheckpointOption = None) -> None:
    """Recompute the keyed chains of interventions and audit events and compare them with the
    latest checkpoints; exit 1 on any mismatch (edit, forged row, rewrite, truncation)."""
    from app.services.audit import verify_chains

    with _clear_database_errors(), _database().read() as session:
        reports = verify_chains(session, checkpoint_file=checkpoints)
    failed = False
    for report in reports:
        verdict = "OK" if report.ok else "TAMPERED"
        typer.echo(f"{report.table}: {report.rows} rows, {verdict}")
        for finding in report.findings:
            typer.echo(f"  {finding}")
        failed = failed or not report.ok
    raise typer.Exit(1 if failed else 0)


@audit_cli.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Append to this file instead (e.g. beside a database backup).")] = None,
) -> None:
    """Verify the chains, then append a signed checkpoint of both heads (exit 1 if tampered).

    A chain with no checkpoint yet (say the checkpoint file was lost) is sealed as it is now.
    """
    from app.services.audit import verify_chains, write_checkpoint

    database = _database()
    with _clear_database_errors(), database.read() as session:
        reports = verify_chains(session)
        problems = [p for report in reports for p in report.problems]
        if problems:
            typer.echo("error: the chains do not verify; not checkpointing a tampered log:",
                       err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
            raise typer.Exit(1)
        lines = write_checkpoint(session, database.audit_seal, out)
    for report in reports:
        if report.unsealed:
            typer.echo(f"warning: {report.table} had no checkpoint; sealing it as it is now")
    for line in lines:
        typer.echo(f"checkpointed {line}")


def _ensure_secret_key() -> None:
    """Use QTLENS_SECRET_KEY, else a key persisted under var/ so restarts keep sessions valid."""
    if os.environ.get("QTLENS_SECRET_KEY"):
        return
    from app.settings import PROJECT_ROOT

    key_file = PROJECT_ROOT / "var" / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    os.environ["QTLENS_SECRET_KEY"] = key_file.read_text().strip()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the web application (run `qtlens db upgrade` first)."""
    import uvicorn

    from app.services.audit import seal_from_settings

    _ensure_secret_key()
    seal_from_settings(_settings())  # creates var/audit_key before the workers start
    bundle = _settings().model_bundle
    if not Path(bundle).exists():
        typer.echo(f"error: model bundle {bundle} not found (QTLENS_MODEL_BUNDLE)", err=True)
        raise typer.Exit(2)
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, log_level="info",
                proxy_headers=False)


def build_main_cli() -> typer.Typer:
    """The full ``qtlens`` command."""
    cli = build_cli()
    cli.command("serve")(serve)
    cli.add_typer(db_cli, name="db")
    cli.add_typer(users_cli, name="users")
    cli.add_typer(audit_cli, name="audit")
    return cli


def main() -> None:
    """Console-script entry point."""
    build_main_cli()()
