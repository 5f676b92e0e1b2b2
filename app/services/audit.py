"""The tamper-evident logs: keyed hash chains over ``interventions`` and ``audit_events``.

Each row stores its position ``seq`` (1, 2, …), ``prev_hash`` (the hash of the row before it in
the same table, or 64 zeros for the first) and ``hash = HMAC-SHA256(key, chain id ‖ prev_hash ‖
canonical JSON of the row's content)``. The key lives outside the database
(``QTLENS_AUDIT_KEY`` or the key file ``var/audit_key``), so whoever can write to the database
but not read the key cannot forge a row, an append or a whole new chain that verifies.

Deleting rows from the *end* of a chain leaves a valid shorter chain, so every committed append
also writes a signed **checkpoint** (chain id, table, ``seq`` and hash of the head) to an
append-only file outside the database (``var/audit-checkpoints.jsonl``); :func:`verify_chains`
fails when the database holds fewer rows than a checkpoint recorded, or another head.

Rows are appended under a lock (SQLite: the ``BEGIN IMMEDIATE`` write transaction; PostgreSQL: a
transaction-scoped advisory lock) so the chain never forks. :func:`verify_chains` recomputes both
chains and names the first row that does not match — an edit, deletion, insertion, reordering or
truncation made behind the application's back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db.models import AuditChain, AuditEvent, Intervention
from app.db.session import DATABASE, WRITES, on_commit

if TYPE_CHECKING:
    from app.settings import Settings

GENESIS_HASH = "0" * 64
#: Shortest audit key accepted (bytes): an HMAC key shorter than this is guessable.
MIN_KEY_BYTES = 16

#: Content columns hashed per table (everything but the surrogate id and the hash columns).
_CONTENT_COLUMNS: dict[type, tuple[str, ...]] = {
    Intervention: (
        "prediction_id", "user_id", "created_at", "action", "concept", "unit", "model_value",
        "previous_value", "new_value", "risks_before", "risks_after", "source", "comment",
    ),
    AuditEvent: ("created_at", "user_id", "event_type", "detail"),
}
#: Content columns added after rows were chained: hashed only when set, so that the rows written
#: before them keep their hashes.
_OPTIONAL_COLUMNS: dict[type, tuple[str, ...]] = {
    Intervention: ("fiducials", "typed_concept", "typed_value"), AuditEvent: ()}
#: The chained tables, in the order they are verified.
CHAINED: tuple[type, ...] = (Intervention, AuditEvent)
#: PostgreSQL advisory-lock keys, one per chain.
_LOCK_KEYS: dict[type, int] = {Intervention: 71_001, AuditEvent: 71_002}
#: ``session.info`` key: the chain id of a session opened outside a :class:`Database`.
_IDENTITY = "qtlens_chain_id"
#: ``session.info`` key: ``(transaction, {model: (seq, hash)})``, the heads of the chains this
#: transaction holds the lock of, as read or appended under it.
_HEADS = "qtlens_chain_heads"


class AuditSetupError(RuntimeError):
    """The audit key or the checkpoint file is not usable (the message says why)."""


class ChainTampered(RuntimeError):
    """A chain does not verify where the operation needs it to (re-keying, checkpointing)."""


@dataclass(frozen=True)
class AuditSeal:
    """What keys the chains: the HMAC key and where checkpoints go (both outside the database).

    Attributes:
        key: The HMAC-SHA256 key (at least :data:`MIN_KEY_BYTES` bytes).
        checkpoint_file: The append-only checkpoint file.
    """

    key: bytes
    checkpoint_file: Path

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise AuditSetupError(f"the audit key must be at least {MIN_KEY_BYTES} bytes long")


def _ensure_key_file(settings: Settings) -> None:
    """Create the audit key file (random, mode 0600) unless ``QTLENS_AUDIT_KEY`` is set or the
    file exists."""
    if settings.audit_key is not None or settings.audit_key_file.exists():
        return
    settings.audit_key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(settings.audit_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600)
    except FileExistsError:  # another process created it first
        return
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))


def seal_from_settings(settings: Settings) -> AuditSeal:
    """The configured seal: ``QTLENS_AUDIT_KEY``, else the key file (created on first use, like
    the secret key). :class:`AuditSetupError` when the key is too short or the checkpoint file
    cannot be appended to (found at start-up, not after an edit has committed)."""
    try:
        if settings.audit_key is not None:
            key = settings.audit_key.get_secret_value()
        else:
            _ensure_key_file(settings)
            key = settings.audit_key_file.read_text().strip()
        _append(settings.audit_checkpoint_file, b"")
    except OSError as error:
        raise AuditSetupError(f"{error.filename}: {error.strerror}") from None
    return AuditSeal(key=key.encode("utf-8"), checkpoint_file=settings.audit_checkpoint_file)


def seal_of(session: Session) -> AuditSeal:
    """The seal of the :class:`~app.db.session.Database` that opened ``session``."""
    database = session.info.get(DATABASE)
    if database is None:
        raise AuditSetupError("this session was not opened by a QTLens Database: no audit key")
    return database.audit_seal  # type: ignore[no-any-return]


def utc_now() -> datetime:
    """Current time, timezone-aware UTC, truncated to microseconds (what both engines store)."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, timezone-aware (SQLite hands back the stored UTC wall time naive)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Columns are typed on read (a Float column returns 480.0 for an inserted 480).
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, dict):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    return value


def _payload(row: Intervention | AuditEvent, columns: tuple[str, ...]) -> bytes:
    content = {name: _canonical_value(getattr(row, name)) for name in columns}
    state = sa_inspect(row)
    for name in _OPTIONAL_COLUMNS[type(row)]:
        if name in state.unloaded and name not in state.expired_attributes:
            continue  # never read: a migration reading the schema before the column existed
        if getattr(row, name) is not None:
            content[name] = _canonical_value(getattr(row, name))
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def legacy_row_hash(prev_hash: str, row: Intervention | AuditEvent) -> str:
    """The unkeyed SHA-256 chain hash of schema 0001 (checked once, when migration 0002 re-keys
    an existing database)."""
    payload = _payload(row, _CONTENT_COLUMNS[type(row)])
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def row_hash(key: bytes, chain_id: str, prev_hash: str, row: Intervention | AuditEvent) -> str:
    """The keyed chain hash of ``row`` (its content and ``seq``) given its predecessor's hash."""
    payload = _payload(row, (*_CONTENT_COLUMNS[type(row)], "seq"))
    message = chain_id.encode("ascii") + b"\x00" + prev_hash.encode("ascii") + payload
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def chain_id(session: Session) -> str:
    """This database's chain id (a random id set by migration 0002; checkpoints name it)."""
    return session.execute(select(AuditChain.chain_id)).scalar_one()


def _identity(session: Session) -> str:
    """The chain id that keys this session's appends: read once per :class:`Database` (no
    migration or command changes it), or once per session opened outside one."""
    database = session.info.get(DATABASE)
    memo = database.memo if database is not None else session.info
    if _IDENTITY not in memo:
        memo[_IDENTITY] = chain_id(session)
    return memo[_IDENTITY]  # type: ignore[no-any-return]


def lock_chain(session: Session, model: type) -> None:
    """Hold ``model``'s chain lock until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock (re-entrant within the transaction); on
    SQLite the ``BEGIN IMMEDIATE`` write transaction already serialises writers. Callers that
    derive a row's content from the rows before it (an intervention's ``previous_value`` and
    ``risks_before``) take it *before* reading them.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[model]})
        _locked_heads(session).setdefault(model, None)


def _locked_heads(session: Session) -> dict[type, tuple[int, str] | None]:
    """The heads remembered for this transaction (model → ``(seq, hash)``, ``None`` until
    read), one entry per chain whose lock the transaction holds; a new transaction starts
    empty."""
    transaction = session.get_transaction()
    kept = session.info.get(_HEADS)
    if kept is None or kept[0] is not transaction:
        kept = session.info[_HEADS] = (transaction, {})
    return kept[1]  # type: ignore[no-any-return]


def _holds_lock(session: Session, model: type) -> bool:
    """Whether this transaction holds ``model``'s chain lock: a write transaction on SQLite
    (``BEGIN IMMEDIATE``), else once :func:`lock_chain` took it."""
    if session.info.get(WRITES) and session.get_bind().dialect.name == "sqlite":
        return True
    return model in _locked_heads(session)


def version(session: Session) -> tuple[int, str]:
    """The audit-event chain's head ``(seq, hash)``, which names the database's content: every
    write QTLens makes (an upload, a prediction, an edit, a review, a user change…) appends an
    audit event, so what was computed from the rows at one head holds while the head is the
    same; the hash tells apart two heads of one ``seq`` where a transaction rolled back."""
    return _head(session, AuditEvent)


def _head(session: Session, model: type) -> tuple[int, str]:
    """``(seq, hash)`` of the chain's last row, ``(0, GENESIS_HASH)`` when it is empty. Under
    the chain's lock no other writer can move it, so it is read once per transaction and then
    kept as this transaction appends."""
    locked = _holds_lock(session, model)
    if locked and (kept := _locked_heads(session).get(model)) is not None:
        return kept
    last = session.execute(
        select(model.seq, model.hash).order_by(model.id.desc()).limit(1)
    ).one_or_none()
    head = (last.seq, last.hash) if last is not None else (0, GENESIS_HASH)
    if locked:
        _locked_heads(session)[model] = head
    return head


def append(session: Session, row: Intervention | AuditEvent) -> Intervention | AuditEvent:
    """Chain ``row`` to the last row of its table and add it to the session (flushed).

    When the transaction commits, the new head is checkpointed outside the database.
    """
    model = type(row)
    seal = seal_of(session)
    lock_chain(session, model)
    last_seq, last_hash = _head(session, model)
    row.seq = last_seq + 1
    row.prev_hash = last_hash
    row.hash = row_hash(seal.key, _identity(session), row.prev_hash, row)
    session.add(row)
    session.flush()
    _locked_heads(session)[model] = (row.seq, row.hash)  # the lock is held: taken above
    on_commit(session, "audit checkpoint", (model.__tablename__, row.seq, row.hash),
              _checkpoint_appended)
    return row


def _checkpoint_appended(session: Session, appended: list[tuple[str, int, str]]) -> None:
    """Checkpoint the heads a committed transaction appended (the last per table), in one
    write (never before the commit: a rolled-back append must leave no checkpoint)."""
    heads = {table: (seq, head) for table, seq, head in appended}
    seal = seal_of(session)
    write_checkpoint_lines(seal, seal.checkpoint_file, _identity(session), heads)


def record_event(
    session: Session, event_type: str, user_id: int | None, **detail: Any
) -> AuditEvent:
    """Append an audit event. ``detail`` must not contain anything that identifies a patient."""
    audit_event = AuditEvent(
        created_at=utc_now(), user_id=user_id, event_type=event_type, detail=detail
    )
    append(session, audit_event)
    return audit_event


def _checkpoint_mac(key: bytes, fields: dict[str, Any]) -> str:
    message = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, b"checkpoint\x00" + message, hashlib.sha256).hexdigest()


def checkpoint_line(seal: AuditSeal, identity: str, table: str, seq: int, head: str) -> str:
    """One signed checkpoint line (the chain's head ``seq`` and hash), newline-terminated."""
    fields = {"chain": identity, "table": table, "seq": seq, "head": head,
              "at": utc_now().isoformat(timespec="seconds")}
    return json.dumps({**fields, "mac": _checkpoint_mac(seal.key, fields)},
                      sort_keys=True, separators=(",", ":")) + "\n"


def write_checkpoint_lines(seal: AuditSeal, path: Path, identity: str,
                           heads: dict[str, tuple[int, str]]) -> None:
    """Append one signed checkpoint per table (``table → (seq, head hash)``) to ``path``.

    One ``write`` of every line on a descriptor opened ``O_APPEND`` (lines from concurrent
    processes never interleave), then one ``fsync``: a committed row is covered even if the
    machine stops next, and an edit that appends to both chains pays for one disk flush.
    """
    if heads:
        lines = "".join(checkpoint_line(seal, identity, table, seq, head)
                        for table, (seq, head) in heads.items())
        _append(path, lines.encode("utf-8"))


def _append(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileNotFoundError:  # its folder is gone (made at start-up): make it again
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, flags, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_checkpoint(session: Session, seal: AuditSeal, path: Path | None = None) -> list[str]:
    """Checkpoint both chains' current heads to ``path`` (default: the seal's file).

    ``qtlens audit checkpoint`` calls this after a clean :func:`verify_chains` (and with
    ``--out`` to store a checkpoint beside each database backup). Returns the lines' summaries.
    """
    target = path or seal.checkpoint_file
    identity = chain_id(session)
    heads = {model.__tablename__: _head(session, model) for model in CHAINED}
    heads = {table: (seq, head) for table, (seq, head) in heads.items() if seq}
    write_checkpoint_lines(seal, target, identity, heads)
    return [f"{table}: {seq} rows, head {head[:12]}…" for table, (seq, head) in heads.items()]


@dataclass(frozen=True)
class Checkpoint:
    """The furthest signed checkpoint of one table of this chain."""

    seq: int
    head: str
    at: str


def read_checkpoints(path: Path, key: bytes, identity: str) -> tuple[dict[str, Checkpoint],
                                                                       list[str]]:
    """The highest checkpoint per table of chain ``identity`` in ``path``, and the problems found
    (lines that do not parse, or whose signature is not made with ``key``)."""
    best: dict[str, Checkpoint] = {}
    problems: list[str] = []
    if not path.exists():
        return best, problems
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                entry = json.loads(line)
                if entry["chain"] != identity:
                    continue
                fields = {k: entry[k] for k in ("chain", "table", "seq", "head", "at")}
                signed = hmac.compare_digest(str(entry["mac"]), _checkpoint_mac(key, fields))
                seq = int(fields["seq"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"{path} line {number}: not a checkpoint (edited or torn)")
                continue
            if not signed:
                problems.append(f"{path} line {number}: checkpoint signature does not match "
                                "the audit key (forged)")
                continue
            current = best.get(fields["table"])
            if current is None or seq > current.seq:
                best[fields["table"]] = Checkpoint(seq, str(fields["head"]), str(fields["at"]))
    return best, problems


@dataclass
class ChainReport:
    """Result of verifying one chain."""

    table: str
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    #: Rows but no checkpoint of this chain: deleting rows from the end cannot be ruled out.
    unsealed: bool = False

    @property
    def ok(self) -> bool:
        """True when every row links to its predecessor, carries its keyed hash, and the chain
        reaches its latest checkpoint."""
        return not self.problems and not self.unsealed

    @property
    def findings(self) -> list[str]:
        """Every reason the chain is not ok, in words."""
        unsealed = [(f"{self.table}: no checkpoint of this chain in the checkpoint file, so "
                    "deleting rows from the end cannot be ruled out")] if self.unsealed else []
        return [*self.problems, *unsealed]


def verify_chain(session: Session, model: type, seal: AuditSeal, identity: str,
                 checkpoint: Checkpoint | None, batch_size: int = 1000) -> ChainReport:
    """Recompute the chain of ``model``'s table in id order, in batches (bounded memory), and
    compare it with its latest ``checkpoint``."""
    report = ChainReport(table=model.__tablename__)
    expected_prev = GENESIS_HASH
    last_id = 0
    while True:
        rows = session.execute(
            select(model).where(model.id > last_id).order_by(model.id).limit(batch_size)
        ).scalars().all()
        if not rows:
            break
        for row in rows:
            report.rows += 1
            if row.prev_hash != expected_prev or row.seq != report.rows:
                report.problems.append(
                    f"{report.table} row {row.id}: prev_hash or position does not match the "
                    "previous row (a row was deleted, inserted or reordered)"
                )
            if not hmac.compare_digest(row_hash(seal.key, identity, row.prev_hash, row),
                                       row.hash):
                report.problems.append(
                    f"{report.table} row {row.id}: content does not match its keyed hash "
                    "(edited, or written without the audit key)"
                )
            if checkpoint is not None and row.seq == checkpoint.seq and row.hash != checkpoint.head:
                report.problems.append(
                    f"{report.table} row {row.id}: differs from the head checkpointed at "
                    f"{checkpoint.at} (rewritten)"
                )
            expected_prev = row.hash
            last_id = row.id
        session.expunge_all()
    if checkpoint is not None and report.rows < checkpoint.seq:
        report.problems.append(
            f"{report.table}: {report.rows} rows, but {checkpoint.seq} were checkpointed at "
            f"{checkpoint.at} (rows deleted from the end)"
        )
    report.unsealed = checkpoint is None and report.rows > 0
    return report


def verify_chains(session: Session, seal: AuditSeal | None = None,
                  checkpoint_file: Path | None = None) -> list[ChainReport]:
    """Verify the interventions chain and the audit-event chain against the key and the latest
    checkpoints (``checkpoint_file``, default the seal's; e.g. the one saved with a backup)."""
    seal = seal or seal_of(session)
    identities = session.execute(select(AuditChain.chain_id)).scalars().all()
    if len(identities) != 1:
        return [ChainReport(table=AuditChain.__tablename__, problems=[
            f"{len(identities)} chain ids where there must be one (deleted or added)"])]
    identity = identities[0]
    path = checkpoint_file or seal.checkpoint_file
    checkpoints, problems = read_checkpoints(path, seal.key, identity)
    reports = [verify_chain(session, model, seal, identity,
                            checkpoints.get(model.__tablename__)) for model in CHAINED]
    if problems:
        reports.append(ChainReport(table=f"checkpoint file {path}", problems=problems))
    return reports
