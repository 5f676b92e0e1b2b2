"""Every real development ECG as concept-network data: signals, measured concepts, marks, beats.

:func:`load_real_set` gathers PTB-XL, Challenge 2021, LUDB and QTDB (``$QTLENS_DATA_DIR``) into one
:class:`RealSet`, built once and cached (``<cache root>/real/<key>.npz``, the key covering the data
folder, the layout and the source of measurement, reading and this module):

* **windows** — a 10 s record is one window; a QTDB record (15 min, 2 leads) gives up to
  :data:`QTDB_WINDOWS` 10 s windows around its marked beats (:func:`models.ecg.validate.segments`),
  its two leads in their standard places where they are standard leads, the other ten masked;
* **signals** — at the network's rate and length (:func:`models.data.cache.to_store_layout`);
* **measured** — every concept measured by :func:`models.ecg.measure.measure` on the window at its
  own rate (NaN where the pipeline declines);
* **reference QT** — the cardiologists' global QT where they marked the window: LUDB, earliest QRS
  onset to latest T end over the leads per beat (CSE), median over beats; QTDB, the single
  multi-lead mark, median over the window's marked beats;
* **beats** — per beat of the median beat, J point, T end and the next beat's P onset (s): the
  knots of the counterfactual long-QT augmentation (:mod:`models.data.augment`);
* **role** — train / tune / check by :func:`models.data.splits.record_role`.

Training targets (:meth:`RealSet.targets`) are the measured concepts with QT replaced by the
cardiologists' where they exist, derived concepts re-derived from it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from models.concepts import REGISTRY, concept_names, rederive
from models.data.base import DatasetRecord
from models.data.cache import (
    StoreLayout,
    _parallel_map,
    cache_root,
    measurement_code_version,
    signal_code_version,
    source_digest,
    to_store_layout,
)
from models.data.paths import default_data_dir
from models.data.registry import cached_record_dataset, default_root
from models.data.splits import SPLIT_RULE, record_role
from models.ecg.record import Ecg

#: The datasets gathered, in report order.
REAL_DATASETS: tuple[str, ...] = ("ptbxl", "challenge", "ludb", "qtdb")
#: Most 10 s windows taken from one QTDB record (evenly over its marked windows).
QTDB_WINDOWS = 6
#: Most beats whose knots are kept per window.
MAX_BEATS = 32
#: Marks of beats closer than this (s) on different leads belong to the same beat.
SAME_BEAT_S = 0.15
#: Fewest leads that must mark a LUDB beat for its global QT to count.
MIN_MARKED_LEADS = 6
#: Margin kept between a stretched T end and the next P onset (s).
KNOT_COLUMNS: tuple[str, ...] = ("j_s", "t_end_s", "next_anchor_s")


@dataclass(frozen=True)
class RealSet:
    """Real ECG windows with measured concepts (one row per window).

    Attributes:
        signals_mv: ``[n, 12, L]`` float32 at ``fs_hz``.
        fs_hz: sampling rate of ``signals_mv`` (Hz).
        lead_mask: ``[n, 12]`` bool.
        measured: ``[n, K]`` float32, what the measurement pipeline gives (NaN = declined).
        reference_qt_ms: ``[n]`` float32, the cardiologists' global QT (NaN = not marked).
        knots: ``[n, MAX_BEATS, 3]`` float32 J, T end, next P onset (s; NaN padded).
        age_years: ``[n]`` float32 (NaN unknown).
        sex: ``[n]`` int8 model sex codes.
        dataset: ``[n]`` dataset name.
        record_id: ``[n]`` record name (QTDB: ``name@start_s``).
        role: ``[n]`` ``train``/``tune``/``check``.
    """

    signals_mv: np.ndarray
    fs_hz: float
    lead_mask: np.ndarray
    measured: np.ndarray
    reference_qt_ms: np.ndarray
    knots: np.ndarray
    age_years: np.ndarray
    sex: np.ndarray
    dataset: np.ndarray
    record_id: np.ndarray
    role: np.ndarray

    def __len__(self) -> int:
        return int(self.signals_mv.shape[0])

    def select(self, rows: np.ndarray) -> RealSet:
        """The windows at ``rows`` (indices or a bool mask)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return RealSet(**{k: v if k == "fs_hz" else v[rows] for k, v in values.items()})

    def of_role(self, role: str) -> RealSet:
        """The windows of one role."""
        return self.select(self.role == role)

    def targets(self) -> np.ndarray:
        """``[n, K]`` training targets: measured concepts, QT from the cardiologists where they
        marked it, derived concepts re-derived (NaN where an input is missing)."""
        targets = self.measured.copy()
        marked = np.flatnonzero(np.isfinite(self.reference_qt_ms))
        qt = concept_names().index("qt")
        for row in marked:
            targets[row, qt] = self.reference_qt_ms[row]
            targets[row] = rederived_row(targets[row], int(self.sex[row]))
        return targets

    def summary(self) -> dict[str, dict[str, int]]:
        """Windows per dataset and role."""
        return {
            name: {
                role: int(((self.dataset == name) & (self.role == role)).sum())
                for role in ("train", "tune", "check")
            }
            for name in REAL_DATASETS
        }


def rederived_row(row: np.ndarray, sex: int) -> np.ndarray:
    """A ``[K]`` concept row with every derived concept recomputed from its inputs."""
    from models.nets.bottleneck import SEX_FEMALE, SEX_MALE

    names = concept_names()
    values = {n: (float(v) if math.isfinite(v) else None) for n, v in zip(names, row)}
    sex_name = {SEX_FEMALE: "female", SEX_MALE: "male"}.get(sex)
    out = rederive(values, sex_name)  # type: ignore[arg-type]
    return np.array([np.nan if out[n] is None else out[n] for n in names], dtype=np.float32)


# --------------------------------------------------------------------------- building


def _global_qt_ludb(fiducials: dict[str, Any]) -> float:
    """Median over beats of the CSE global QT (earliest QRS onset to latest T end over the leads
    marking the beat, ≥ :data:`MIN_MARKED_LEADS` leads) from LUDB's per-lead marks (ms)."""
    from models.ecg.validate import reference_beats

    marks = sorted(
        (
            (beat["R"], beat.get("QRS_on"), beat.get("T_end"))
            for waves in fiducials.values()
            for beat in reference_beats(waves)
        ),
        key=lambda mark: mark[0],
    )
    groups: list[list[tuple[float, float | None, float | None]]] = []
    for mark in marks:
        if groups and mark[0] - groups[-1][0][0] <= SAME_BEAT_S:
            groups[-1].append(mark)
        else:
            groups.append([mark])
    qts = []
    for group in groups:
        onsets = [m[1] for m in group if m[1] is not None]
        ends = [m[2] for m in group if m[2] is not None]
        if len(onsets) >= MIN_MARKED_LEADS and len(ends) >= MIN_MARKED_LEADS:
            qts.append(1000.0 * (max(ends) - min(onsets)))
    return float(np.median(qts)) if qts else math.nan


def _window_qt_qtdb(fiducials: dict[str, Any], start_s: float, stop_s: float) -> float:
    """Median QT (ms) of QTDB's multi-lead marked beats whose QRS peak lies in the window."""
    from models.ecg.validate import reference_beats

    qts = [
        1000.0 * (beat["T_end"] - beat["QRS_on"])
        for waves in fiducials.values()
        for beat in reference_beats(waves)
        if start_s <= beat["R"] <= stop_s and "T_end" in beat and "QRS_on" in beat
    ]
    return float(np.median(qts)) if qts else math.nan


def _knots(measurements: Any, duration_s: float) -> np.ndarray:
    """``[MAX_BEATS, 3]`` J, T end and next P onset (s) of each beat of the median beat whose
    stretch stays inside the window (NaN padded)."""
    knots = np.full((MAX_BEATS, len(KNOT_COLUMNS)), np.nan, dtype=np.float32)
    rows = measurements.lead_beat_fiducials(None, median_only=True)
    kept = 0
    for i, row in enumerate(rows):
        j, t_end = row.get("qrs_offset_s"), row.get("t_end_s")
        if j is None or t_end is None or kept == MAX_BEATS:
            continue
        if i + 1 < len(rows):
            following = rows[i + 1]
            anchor = following.get("p_onset_s") or following.get("qrs_onset_s")
            if anchor is None:
                anchor = following["r_peak_s"] - 0.2
        else:
            anchor = duration_s
        if anchor > t_end:
            knots[kept] = (j, t_end, anchor)
            kept += 1
    return knots


def _window_item(
    dataset: str,
    record: DatasetRecord,
    ecg: Ecg,
    layout: StoreLayout,
    reference_qt_ms: float,
    suffix: str,
    strat_fold: int | None,
) -> dict[str, Any]:
    """Measure one window and put it in the layout."""
    from models.ecg.measure import measure
    from models.nets.bottleneck import sex_code

    measurements = measure(ecg)
    signal, _, present = to_store_layout(ecg, layout)
    values = measurements.values()
    return {
        "signals_mv": signal,
        "lead_mask": present,
        "measured": np.array(
            [np.nan if values[c.name] is None else values[c.name] for c in REGISTRY], np.float32
        ),
        "reference_qt_ms": np.float32(reference_qt_ms),
        "knots": _knots(measurements, ecg.duration_s),
        "age_years": np.float32(np.nan if ecg.age_years is None else ecg.age_years),
        "sex": np.int8(sex_code(ecg.sex)),
        "dataset": dataset,
        "record_id": record.record_id + suffix,
        "role": record_role(dataset, record.record_id, strat_fold),
    }


def _record_items(task: tuple[str, str, str, StoreLayout]) -> list[dict[str, Any]]:
    """Every window of one record (runs in a worker process); unreadable records give none."""
    from models.ecg.errors import EcgInputError
    from models.ecg.validate import segments

    dataset, root, record_id, layout = task
    reader = cached_record_dataset(dataset, root)
    try:
        record = reader.load(record_id)
    except EcgInputError:
        return []
    fold = int(reader.index.at[record_id, "strat_fold"]) if dataset == "ptbxl" else None
    if dataset != "qtdb":
        reference = _global_qt_ludb(record.fiducials) if record.fiducials else math.nan
        return [_window_item(dataset, record, record.ecg, layout, reference, "", fold)]
    if not any(record.ecg.has_lead(lead) for lead in _standard_leads()):
        return []
    windows = segments(record, layout.duration_s)
    chosen = np.unique(np.linspace(0, len(windows) - 1, min(QTDB_WINDOWS, len(windows))).round())
    items = []
    for index in chosen.astype(int):
        window = windows[index]
        first = round(window.start_s * record.ecg.fs_hz)
        last = round(window.stop_s * record.ecg.fs_hz)
        ecg = record.ecg.with_signal(record.ecg.signal_mv[:, first:last])
        reference = _window_qt_qtdb(record.fiducials or {}, window.start_s, window.stop_s)
        items.append(
            _window_item(dataset, record, ecg, layout, reference, f"@{window.start_s:.1f}", None)
        )
    return items


def _standard_leads() -> tuple[str, ...]:
    from models.ecg.record import STANDARD_LEADS

    return STANDARD_LEADS


def real_set_key(data_dir: Path, layout: StoreLayout) -> str:
    """Cache key of the real set: data folder, layout and the code that decides its content."""
    digest = hashlib.sha256()
    for part in (
        str(data_dir.resolve()),
        f"{layout.fs_hz:g}-{layout.duration_s:g}",
        measurement_code_version(),
        signal_code_version(),
        source_digest(("data/real.py", "data/splits.py", "ecg/validate.py")),
    ):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def build_real_set(
    data_dir: Path, layout: StoreLayout, workers: int = 2, datasets: Sequence[str] = REAL_DATASETS
) -> RealSet:
    """Read, window and measure every record of ``datasets`` (no cache)."""
    tasks = []
    for dataset in datasets:
        root = default_root(dataset, data_dir)
        reader = cached_record_dataset(dataset, str(root))
        tasks += [(dataset, str(root), record_id, layout) for record_id in reader.record_ids()]
    items = [
        item
        for items in _parallel_map(_record_items, tasks, workers, "real ECGs")
        for item in items
    ]
    if not items:
        raise ValueError(f"no readable real ECGs under {data_dir}")
    columns = {name: np.stack([item[name] for item in items]) for name in items[0]}
    return RealSet(fs_hz=layout.fs_hz, **columns)


def load_real_set(
    data_dir: Path | None = None,
    fs_hz: float = 100.0,
    duration_s: float = 10.0,
    workers: int = 2,
    cache_dir: Path | str | None = None,
) -> RealSet:
    """The real set at ``fs_hz``/``duration_s``, from the cache or built (then cached).

    Raises:
        DatasetRootError: a dataset folder lacks what its loader needs.
        ValueError: no readable record.
    """
    data_dir = data_dir or default_data_dir()
    layout = StoreLayout(fs_hz, duration_s)
    path = cache_root(cache_dir) / "real" / f"{real_set_key(data_dir, layout)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            return RealSet(fs_hz=fs_hz, **{k: stored[k] for k in stored.files})
    real = build_real_set(data_dir, layout, workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    values = {f.name: getattr(real, f.name) for f in fields(real) if f.name != "fs_hz"}
    np.savez(temporary, **{k: v.astype(str) if v.dtype == object else v for k, v in values.items()})
    temporary.replace(path)
    return real


#: The split rule, re-exported for cards and reports.
REAL_SPLIT_RULE = SPLIT_RULE
