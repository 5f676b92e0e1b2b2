"""Caches that make research on public datasets cheap: concepts measured once, signals parsed once.

Both live under :func:`cache_root` (``$QTLENS_CACHE_DIR``, default ``~/.cache/qtlens``), never in
the repository, and both are keyed by the **content** of each record's files (SHA-256 over the
bytes of every file of the record, :func:`content_sha256`) plus a **code version** (a digest of
the source code that turns those files into the cached values, :func:`source_digest`). A record
whose files change, or a change to the code, is recomputed; nothing else is.

Concept cache (:func:`build_concept_cache`, :func:`load_concepts`)::

    concepts/<code version>/part-<UTC time>-<token>.parquet

Each part holds one row per measured record content: ``content_sha256``, ``record_id`` (where it
was first seen), ``dataset``, ``measured_at`` (UTC), ``unreadable`` (the reader's reason when the
files could not be read), and for every registry concept ``<name>`` (value in registry units,
missing when unavailable) and ``<name>__unavailable`` (the reason, or missing). Parts are
written every ``flush_every`` records, so an interrupted build resumes.

Signal store (:func:`build_signal_store`, :class:`SignalStore`)::

    signals/<dataset>/<fs>hz-<duration>s-<root digest>/signals.npy   float32 [n, 12, samples]
                                                      /index.parquet record_id → row, hashes
                                                      /meta.json

Each record is put in the store layout by :func:`to_store_layout`: the 12 standard leads in
:data:`~models.ecg.record.STANDARD_LEADS` order (an absent lead is zeros and flagged in the
index), polyphase resampling to the store rate, the first ``duration_s`` seconds kept (shorter
records zero-padded at the end; the index keeps the valid length), non-finite samples set to 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from models.concepts import REGISTRY
from models.data.base import RecordDataset, RecordSpec, read_record
from models.ecg.errors import EcgInputError
from models.ecg.record import STANDARD_LEADS, Ecg

if TYPE_CHECKING:
    from models.ecg.measure import Measurements

#: Suffix of the column holding why a concept is unavailable.
REASON_SUFFIX = "__unavailable"
#: Default number of worker processes for measuring and parsing.
DEFAULT_WORKERS = 2
#: Default length of the signal store's records in seconds.
DEFAULT_DURATION_S = 10.0

#: Source under ``models/`` that decides measured concept values: reading, preprocessing,
#: delineation and measurement (all of ``models/ecg`` but the synthetic generator), the registry
#: and the dataset reading path. Over-inclusive on purpose: a stale cache is worse than a rebuild.
MEASUREMENT_SOURCES: tuple[str, ...] = ("ecg", "concepts.py", "data/base.py")
#: Source below :data:`MEASUREMENT_SOURCES` that measurement never imports.
MEASUREMENT_EXCLUDED: tuple[str, ...] = ("ecg/synth",)
#: Source under ``models/`` that decides the signal store's contents.
SIGNAL_SOURCES: tuple[str, ...] = ("ecg/io", "ecg/record.py", "data/base.py", "data/cache.py")

_MODELS_DIR = Path(__file__).resolve().parents[1]

Item = TypeVar("Item")
Result = TypeVar("Result")


#: The measurement function: :func:`models.ecg.measure.measure` or one with its signature.
MeasureFn = Callable[[Ecg], "Measurements"]


@dataclass(frozen=True)
class CacheBuildReport:
    """What one cache build did.

    Attributes:
        records: records in the dataset.
        computed: records measured or parsed in this build.
        reused: records served from the cache.
        seconds: wall time of the build.
        location: the cache folder written.
        unreadable: records (of those computed now) whose files the reader refused; they are
            cached with the reason, so the next build does not retry them.
    """

    records: int
    computed: int
    reused: int
    seconds: float
    location: Path
    unreadable: int = 0


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$QTLENS_CACHE_DIR``, else ``~/.cache/qtlens``."""
    chosen = cache_dir or os.environ.get("QTLENS_CACHE_DIR") or Path.home() / ".cache" / "qtlens"
    return Path(chosen).expanduser()


def content_sha256(paths: Sequence[Path]) -> str:
    """SHA-256 (hex) over the bytes of a record's files, in the order given.

    Each file's length is hashed before its bytes, so moving bytes between files changes the key.
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def source_digest(relative_paths: Sequence[str], excluded: Sequence[str] = ()) -> str:
    """A 16-hex-digit digest of the Python source below ``models/`` at the given paths.

    Folders contribute every ``.py`` file inside them except those below ``excluded``. Any edit
    to that code changes the digest, so caches built by older code are never served.

    Raises:
        FileNotFoundError: when a path does not exist (a stale source list).
    """
    digest = hashlib.sha256()
    for relative in relative_paths:
        path = _MODELS_DIR / relative
        if not path.exists():
            raise FileNotFoundError(f"source path models/{relative} does not exist")
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        skipped = [_MODELS_DIR / folder for folder in excluded]
        for file in (f for f in files if not any(f.is_relative_to(s) for s in skipped)):
            digest.update(file.relative_to(_MODELS_DIR).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _parallel_map(
    function: Callable[[Item], Result], items: Sequence[Item], workers: int, description: str
) -> Iterator[Result]:
    """``function`` over ``items`` in order, in ``workers`` processes, with a progress bar.

    At most ``4 × workers`` items are in flight, so results never pile up in memory. With one
    worker everything runs in this process.
    """
    with tqdm(total=len(items), desc=description, unit="record") as bar:
        if workers <= 1:
            for item in items:
                yield function(item)
                bar.update()
            return
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            pending: deque[Future[Result]] = deque()
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= 4 * workers:
                    yield pending.popleft().result()
                    bar.update()
            while pending:
                yield pending.popleft().result()
                bar.update()


def _record_hashes(specs: Sequence[RecordSpec]) -> list[str]:
    return [
        content_sha256(spec.paths)
        for spec in tqdm(specs, desc="hashing record files", unit="record")
    ]


# --------------------------------------------------------------------------- concept cache


def measurement_code_version() -> str:
    """The code version of measured concepts: a digest of :data:`MEASUREMENT_SOURCES`."""
    return source_digest(MEASUREMENT_SOURCES, MEASUREMENT_EXCLUDED)


def concept_columns() -> list[str]:
    """Value and reason columns of every registry concept, in bottleneck order."""
    return [column for c in REGISTRY for column in (c.name, f"{c.name}{REASON_SUFFIX}")]


def concept_row(measurements: Measurements) -> dict[str, float | str | None]:
    """One cache row from a measurement: each concept's value, or ``None`` and the reason."""
    row: dict[str, float | str | None] = {}
    for concept in REGISTRY:
        entry = measurements.concepts.get(concept.name)
        value = None if entry is None else entry.value
        known = value is not None and np.isfinite(value)
        row[concept.name] = float(value) if known else None  # type: ignore[arg-type]
        reason = (entry.reason if entry is not None else None) or "not measured"
        row[f"{concept.name}{REASON_SUFFIX}"] = None if known else reason
    return row


def _measure_spec(task: tuple[RecordSpec, MeasureFn]) -> dict[str, float | str | None]:
    """Read and measure one record (runs in a worker process).

    A record the reader refuses gets the reader's reason in ``unreadable`` and every concept
    unavailable because of it.
    """
    spec, measure_fn = task
    try:
        ecg = read_record(spec)
    except EcgInputError as error:
        return {
            "unreadable": error.message,
            **{
                column: ("unreadable record" if column.endswith(REASON_SUFFIX) else None)
                for column in concept_columns()
            },
        }
    return {"unreadable": None, **concept_row(measure_fn(ecg))}


def _default_measure() -> MeasureFn:
    from models.ecg.measure import measure

    return measure


def _concept_folder(cache_dir: Path | str | None, code_version: str) -> Path:
    return cache_root(cache_dir) / "concepts" / code_version


def _read_concept_parts(folder: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every part of a concept cache folder (hidden temporary files are skipped)."""
    parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
    if not parts:
        return pd.DataFrame(columns=["content_sha256", *(columns or [])])
    frames = [pd.read_parquet(part, columns=list(columns) if columns else None) for part in parts]
    return pd.concat(frames, ignore_index=True).drop_duplicates("content_sha256")


def _write_concept_part(folder: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as a new part, atomically (temporary hidden file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    name = f"part-{stamp}-{secrets.token_hex(4)}.parquet"
    frame = pd.DataFrame(rows)
    frame["measured_at"] = pd.Timestamp.now(tz="UTC")
    temporary = folder / f".{name}.tmp"
    frame.to_parquet(temporary, index=False)
    temporary.replace(folder / name)


def build_concept_cache(
    dataset: RecordDataset,
    workers: int = DEFAULT_WORKERS,
    cache_dir: Path | str | None = None,
    measure_fn: MeasureFn | None = None,
    code_version: str | None = None,
    flush_every: int = 256,
) -> CacheBuildReport:
    """Measure every concept of every record not yet in the cache, in parallel.

    Args:
        dataset: the records to measure.
        workers: worker processes (1 = measure in this process).
        cache_dir: cache root (default :func:`cache_root`).
        measure_fn: ``Ecg -> measurements`` (default :func:`models.ecg.measure.measure`); must be
            importable by name, as worker processes receive it by reference.
        code_version: cache key for the code (default :func:`measurement_code_version`).
        flush_every: records per written part (bounds the work lost to an interruption).

    Returns:
        How many records were measured now and how many came from the cache.
    """
    started = time.perf_counter()
    version = code_version or measurement_code_version()
    measure = measure_fn or _default_measure()
    folder = _concept_folder(cache_dir, version)
    specs = dataset.specs()
    hashes = _record_hashes(specs)
    cached = set(_read_concept_parts(folder, ["content_sha256"])["content_sha256"])
    todo: dict[str, RecordSpec] = {}
    for spec, content in zip(specs, hashes):
        if content not in cached and content not in todo:
            todo[content] = spec
    rows: list[dict[str, Any]] = []
    unreadable = 0
    tasks = [(spec, measure) for spec in todo.values()]
    measured = _parallel_map(_measure_spec, tasks, workers, f"measuring {dataset.name}")
    for (content, spec), row in zip(todo.items(), measured):
        unreadable += row["unreadable"] is not None
        rows.append(
            {"content_sha256": content, "record_id": spec.record_id, "dataset": dataset.name, **row}
        )
        if len(rows) >= flush_every:
            _write_concept_part(folder, rows)
            rows = []
    if rows:
        _write_concept_part(folder, rows)
    return CacheBuildReport(
        records=len(specs),
        computed=len(todo),
        reused=len(specs) - len(todo),
        seconds=time.perf_counter() - started,
        location=folder,
        unreadable=unreadable,
    )


def load_concepts(
    dataset: RecordDataset, cache_dir: Path | str | None = None, code_version: str | None = None
) -> pd.DataFrame:
    """The cached concepts of every record of ``dataset``, indexed by ``record_id``.

    ``qtlens data build-cache`` measures the dataset as :func:`~models.data.registry.open_dataset`
    opens it without a training rate (PTB-XL: the 500 Hz records), so pass it opened that way;
    record ids are the same at every rate, so the result joins any signal store of the dataset.

    Columns: ``content_sha256``, ``measured_at``, ``unreadable`` (the reader's reason where the
    files could not be read, else missing) and :func:`concept_columns`.

    Raises:
        LookupError: when records are not in the cache (run ``qtlens data build-cache``).
    """
    version = code_version or measurement_code_version()
    cached = _read_concept_parts(_concept_folder(cache_dir, version)).set_index("content_sha256")
    ids = dataset.record_ids()
    hashes = pd.Series(_record_hashes(dataset.specs()), index=pd.Index(ids, name="record_id"))
    absent = hashes[~hashes.isin(cached.index)]
    if len(absent):
        raise LookupError(
            f"{len(absent)} of {len(ids)} {dataset.name} records have no cached concepts for "
            f"code version {version}; run `qtlens data build-cache --dataset {dataset.name}`"
        )
    concepts = cached.loc[hashes.to_numpy(), ["measured_at", "unreadable", *concept_columns()]]
    concepts.index = hashes.index
    concepts.insert(0, "content_sha256", hashes.to_numpy())
    return concepts


# --------------------------------------------------------------------------- signal store


def signal_code_version() -> str:
    """The code version of stored signals: a digest of :data:`SIGNAL_SOURCES`."""
    return source_digest(SIGNAL_SOURCES)


@dataclass(frozen=True)
class StoreLayout:
    """The shape of a signal store: rate and length of every stored record."""

    fs_hz: float
    duration_s: float = DEFAULT_DURATION_S

    @property
    def n_samples(self) -> int:
        """Samples per lead of each stored record."""
        return round(self.fs_hz * self.duration_s)


def to_store_layout(ecg: Ecg, layout: StoreLayout) -> tuple[np.ndarray, int, np.ndarray]:
    """Put one ECG in the store layout (see the module docstring for the rule).

    Args:
        ecg: the record as read.
        layout: store rate (Hz) and duration (s).

    Returns:
        ``(signal_mv, n_valid_samples, lead_present)``: float32 ``[12, n_samples]`` in mV, the
        number of samples that hold signal (the rest is padding), and a bool ``[12]`` mask.
    """
    import scipy.signal

    signal = np.zeros((len(STANDARD_LEADS), ecg.n_samples), dtype=np.float64)
    present = np.array([ecg.has_lead(lead) for lead in STANDARD_LEADS])
    for row, lead in enumerate(STANDARD_LEADS):
        if present[row]:
            signal[row] = ecg.lead(lead)
    if not np.isclose(ecg.fs_hz, layout.fs_hz):
        ratio = Fraction(layout.fs_hz / ecg.fs_hz).limit_denominator(1000)
        signal = scipy.signal.resample_poly(signal, ratio.numerator, ratio.denominator, axis=1)
    n_valid = min(signal.shape[1], layout.n_samples)
    stored = np.zeros((len(STANDARD_LEADS), layout.n_samples), dtype=np.float32)
    stored[:, :n_valid] = np.nan_to_num(signal[:, :n_valid], nan=0.0, posinf=0.0, neginf=0.0)
    return stored, n_valid, present


def _layout_spec(task: tuple[RecordSpec, StoreLayout]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read one record and put it in the store layout (runs in a worker process).

    Returns the stored signal and the record's index entry; an unreadable record is stored as
    zeros with no valid samples, no leads and the reader's reason.
    """
    spec, layout = task
    try:
        ecg = read_record(spec)
    except EcgInputError as error:
        stored = np.zeros((len(STANDARD_LEADS), layout.n_samples), dtype=np.float32)
        present = np.zeros(len(STANDARD_LEADS), dtype=bool)
        return stored, _store_entry(0, present, float("nan"), error.message)
    stored, n_valid, present = to_store_layout(ecg, layout)
    return stored, _store_entry(n_valid, present, ecg.fs_hz, None)


def _store_entry(
    n_valid: int, present: np.ndarray, source_fs_hz: float, unreadable: str | None
) -> dict[str, Any]:
    """One record's row of the store index (besides its id, row and hash)."""
    return {
        "n_valid_samples": int(n_valid),
        "source_fs_hz": float(source_fs_hz),
        "unreadable": unreadable,
        **{f"has_{lead}": bool(flag) for lead, flag in zip(STANDARD_LEADS, present)},
    }


class SignalStore:
    """A built signal store, memory-mapped read-only.

    Attributes:
        folder: where it lives.
        layout: rate and duration of every record.
        signals: float32 ``[n_records, 12, n_samples]`` memory map (mV).
        index: one row per record (index ``record_id``): ``row``, ``content_sha256``,
            ``n_valid_samples``, ``source_fs_hz``, ``unreadable`` (the reader's reason for a
            record stored as zeros, else missing) and ``has_<lead>`` per standard lead.
        meta: dataset, root, code version and creation time.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.layout = StoreLayout(self.meta["fs_hz"], self.meta["duration_s"])
        self.index = pd.read_parquet(folder / "index.parquet").set_index("record_id")
        self.signals = np.load(folder / "signals.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.index)

    def signal(self, record_id: str) -> np.ndarray:
        """The stored ``[12, n_samples]`` signal of one record (a read-only view, mV)."""
        return self.signals[int(self.index.at[record_id, "row"])]

    def entry(self, row: int) -> dict[str, Any]:
        """The index entry of store row ``row`` without its id, row and hash (for copying)."""
        entry = self.index.iloc[row].drop(["row", "content_sha256"]).to_dict()
        return {
            key: (None if key == "unreadable" and pd.isna(value) else value)
            for key, value in entry.items()
        }

    def matches(self, record_ids: Sequence[str], hashes: Sequence[str], code_version: str) -> bool:
        """Whether the store holds exactly these records with these contents and this code."""
        return (
            self.meta["code_version"] == code_version
            and list(self.index.index) == list(record_ids)
            and list(self.index["content_sha256"]) == list(hashes)
        )


def signal_store_folder(
    dataset: RecordDataset, layout: StoreLayout, cache_dir: Path | str | None = None
) -> Path:
    """Where the store of ``dataset`` at ``layout`` lives (one per dataset root and layout)."""
    root_digest = hashlib.sha256(str(dataset.root).encode()).hexdigest()[:12]
    name = f"{layout.fs_hz:g}hz-{layout.duration_s:g}s-{root_digest}"
    return cache_root(cache_dir) / "signals" / dataset.name / name


def open_signal_store(
    dataset: RecordDataset, layout: StoreLayout, cache_dir: Path | str | None = None
) -> SignalStore:
    """Open the built store of ``dataset`` without re-hashing its files.

    Raises:
        LookupError: when no complete store built by the current code holds the dataset's
            records (run ``qtlens data build-cache``).
    """
    folder = signal_store_folder(dataset, layout, cache_dir)
    hint = f"run `qtlens data build-cache --dataset {dataset.name} --fs {layout.fs_hz:g}`"
    if not (folder / "meta.json").is_file():
        raise LookupError(f"no signal store for {dataset.name} at {layout.fs_hz:g} Hz; {hint}")
    store = SignalStore(folder)
    if store.meta["code_version"] != signal_code_version() or list(store.index.index) != (
        dataset.record_ids()
    ):
        raise LookupError(f"the {dataset.name} signal store is out of date; {hint}")
    return store


def build_signal_store(
    dataset: RecordDataset,
    layout: StoreLayout,
    workers: int = DEFAULT_WORKERS,
    cache_dir: Path | str | None = None,
) -> tuple[SignalStore, CacheBuildReport]:
    """Build (or reuse) the memory-mapped signal store of ``dataset``.

    Records whose content hash is already in the previous store of the same dataset root and
    layout are copied from it; only new or changed records are parsed, in ``workers`` processes.
    The new store is written beside the old one and swapped in when complete.
    """
    started = time.perf_counter()
    folder = signal_store_folder(dataset, layout, cache_dir)
    version = signal_code_version()
    specs = dataset.specs()
    ids = [spec.record_id for spec in specs]
    hashes = _record_hashes(specs)
    previous = SignalStore(folder) if (folder / "meta.json").is_file() else None
    if previous is not None and previous.matches(ids, hashes, version):
        report = CacheBuildReport(len(ids), 0, len(ids), time.perf_counter() - started, folder)
        return previous, report

    reusable: dict[str, int] = {}
    if previous is not None and previous.meta["code_version"] == version:
        reusable = dict(zip(previous.index["content_sha256"], previous.index["row"]))
    building = folder.with_name(f".{folder.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    signals = np.lib.format.open_memmap(
        building / "signals.npy",
        mode="w+",
        dtype=np.float32,
        shape=(len(specs), len(STANDARD_LEADS), layout.n_samples),
    )
    entries: list[dict[str, Any]] = [{} for _ in specs]
    to_parse = [row for row, content in enumerate(hashes) if content not in reusable]
    for row, content in enumerate(hashes):
        if content in reusable:
            old = reusable[content]
            signals[row] = previous.signals[old]  # type: ignore[union-attr]
            entries[row] = previous.entry(old)  # type: ignore[union-attr]
    tasks = [(specs[row], layout) for row in to_parse]
    parsed = _parallel_map(_layout_spec, tasks, workers, f"storing {dataset.name} signals")
    for row, (stored, entry) in zip(to_parse, parsed):
        signals[row], entries[row] = stored, entry
    signals.flush()
    del signals

    index = pd.DataFrame(entries)
    index.insert(0, "record_id", ids)
    index.insert(1, "row", np.arange(len(ids)))
    index.insert(2, "content_sha256", hashes)
    index.to_parquet(building / "index.parquet", index=False)
    meta = {
        "dataset": dataset.name,
        "root": str(dataset.root),
        "fs_hz": layout.fs_hz,
        "duration_s": layout.duration_s,
        "lead_names": list(STANDARD_LEADS),
        "code_version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (building / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if previous is not None:
        del previous
        retired = folder.with_name(f".{folder.name}.retired-{os.getpid()}")
        folder.replace(retired)
        building.replace(folder)
        shutil.rmtree(retired)
    else:
        building.replace(folder)
    report = CacheBuildReport(
        records=len(ids),
        computed=len(to_parse),
        reused=len(ids) - len(to_parse),
        seconds=time.perf_counter() - started,
        location=folder,
        unreadable=sum(entries[row]["unreadable"] is not None for row in to_parse),
    )
    return SignalStore(folder), report
