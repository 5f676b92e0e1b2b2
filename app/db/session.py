"""Engine and transaction scopes for SQLite (default) and PostgreSQL.

Every unit of work is one transaction opened with :meth:`Database.read` or
:meth:`Database.write` and committed when the ``with`` block ends — before the HTTP response is
sent, so an acknowledged edit is durable. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the database lock instead of failing when
they upgrade a stale read snapshot (the audit hash chain reads the last hash and appends in one
transaction); the file runs in WAL mode with ``synchronous=FULL``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from app.cache import LruCache

if TYPE_CHECKING:
    from app.services.audit import AuditSeal

_WRITE_OPTION = "qtlens_write"
#: ``Session.info`` key: set in the sessions :meth:`Database.write` opens.
WRITES = "qtlens_writes"
#: ``Session.info`` key: the :class:`Database` that opened the session.
DATABASE = "qtlens_database"
#: ``Session.info`` keys: what the open transaction defers until it commits (:func:`on_commit`),
#: and whether the session listens for its end.
_ON_COMMIT = "qtlens_on_commit"
_LISTENING = "qtlens_on_commit_listening"
#: Prediction states kept in memory per database (:attr:`Database.states`); each holds its
#: record's decoded measurements (median beats: a few hundred kB).
STATE_CACHE_ENTRIES = 32


def json_text(value: Any) -> str:
    """The JSON text a JSON column stores for ``value`` (orjson: a prediction's measurements,
    ~80 kB of median beats, encode and decode several times faster than with :mod:`json`).

    Raises:
        TypeError: a value JSON cannot hold, as :func:`json.dumps` would.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
                            ).decode()
    except orjson.JSONEncodeError as error:
        raise TypeError(str(error)) from None


def json_value(text: str | bytes) -> Any:
    """The value of a JSON column's text; rows written by :func:`json.dumps` before
    :func:`json_text` may hold ``NaN``, which only :func:`json.loads` reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url`` with QTLens' connection settings applied (JSON columns
    through :func:`json_text` and :func:`json_value`)."""
    json_codec: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json_value}
    if database_url.startswith("sqlite"):
        # No pre-ping: a connection to a local file does not go stale as a network one does,
        # and a ping would cost every request (authentication, then the edit) a round trip.
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **json_codec,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         **json_codec)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, full sync, and explicit BEGIN (pysqlite's own is disabled)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def on_commit(session: Session, kind: str, item: Any,
              apply: Callable[[Session, list[Any]], None]) -> None:
    """Defer ``item`` until the session's open transaction commits; then ``apply(session,
    items)`` runs once per ``kind`` with every item deferred under it, in order. A rollback drops
    them: nothing is applied for a transaction that did not commit (an audit checkpoint of a row
    that does not exist, a prediction state read from rows the rollback expired)."""
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _apply_deferred)
        event.listen(session, "after_rollback", _drop_deferred)
    session.info.setdefault(_ON_COMMIT, {}).setdefault(kind, (apply, []))[1].append(item)


def _apply_deferred(session: Session) -> None:
    for apply, items in session.info.pop(_ON_COMMIT, {}).values():
        apply(session, items)


def _drop_deferred(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


class Database:
    """The application's one handle on its database (no module-level engine)."""

    def __init__(self, database_url: str, audit_seal: AuditSeal | None = None) -> None:
        """Open ``database_url``; ``audit_seal`` keys the audit chains (default: from the
        environment's settings, read when first needed)."""
        self.url = database_url
        self.engine = make_engine(database_url)
        self.is_sqlite = database_url.startswith("sqlite")
        self._audit_seal = audit_seal
        #: What the services computed from this database's rows, each entry stored with the
        #: audit-chain head it was read at (:func:`app.services.predictions.prediction_state`):
        #: every write appends an audit event, so an entry read at the current head is current.
        self.states = LruCache(STATE_CACHE_ENTRIES)
        #: Facts of this database that never change while it is open (the audit chain id).
        self.memo: dict[str, Any] = {}
        info = {DATABASE: self}
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False,
            info={**info, WRITES: True},
        )

    @property
    def audit_seal(self) -> AuditSeal:
        """The key and checkpoint file of the audit chains (:class:`AuditSetupError` if none)."""
        if self._audit_seal is None:
            from app.services.audit import seal_from_settings
            from app.settings import Settings

            self._audit_seal = seal_from_settings(Settings(database_url=self.url))
        return self._audit_seal

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction (rolled back when the session closes)."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed when the block ends without an exception."""
        with self._write_sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - readiness probe: any failure means "not ready"
            return False

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
