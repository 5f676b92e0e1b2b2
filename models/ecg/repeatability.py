"""Repeatability of the measurement: the same ECG measured twice, once as recorded and once
after resampling to another rate, should give the same concepts.

Resampling (``scipy.signal.resample_poly``, a polyphase anti-aliasing filter) changes the samples
but not the heart's intervals: on a 500 Hz record brought to 250 Hz nothing below the 125 Hz
Nyquist frequency moves, and an ECG's P, QRS and T waves live well below it. A measurement
whose QT moves by tens of milliseconds between the two has a rule that jumps: a threshold on a
gap between leads, a wave taken or declined. Such jumps are noise in every figure built on the
measurement — the targets the concept network is fine-tuned on, its agreement with
measurement, the QT a clinician reads — and show up here as the tail of the paired differences.

``qtlens measure-repeatability --dataset ptbxl --role train --data-dir PATH`` reports, per concept,
the paired records, the mean absolute difference, the 50th/90th/95th percentiles and the largest
absolute difference (ms) and Pearson's r between the two measurements. The roles are those of
:func:`models.data.splits.record_role` (the fine-tuning split), so the figures can be kept to the
*train* records, which no check figure reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.registry import cached_record_dataset, open_record_dataset
from models.data.splits import record_role
from models.ecg.errors import EcgInputError
from models.ecg.measure import measure
from models.ecg.preprocess import resample
from models.ecg.record import Ecg

#: Concepts compared by default (ms).
REPEATABILITY_CONCEPTS: tuple[str, ...] = ("qt", "qtc_fridericia", "tpeak_tend", "jtpeak_c")
#: Datasets of 10 s 12-lead records (QTDB's 15 min two-lead records are windowed elsewhere).
REPEATABILITY_DATASETS: tuple[str, ...] = ("ptbxl", "ludb", "challenge")


@dataclass(frozen=True)
class Agreement:
    """Paired differences of one concept between the two measurements.

    Attributes:
        n: records where both measurements gave a value.
        n_records: records measured.
        mae: mean absolute difference (concept units, ms here).
        p50, p90, p95: percentiles of the absolute difference.
        largest: the largest absolute difference.
        r: Pearson correlation of the two measurements (``nan`` below 3 pairs).
    """

    n: int
    n_records: int
    mae: float
    p50: float
    p90: float
    p95: float
    largest: float
    r: float

    def line(self, concept: str) -> str:
        """One printed line, e.g. ``qt: 253 of 265 records, MAE 4.2, |d| p50 2.1 …``."""
        return (
            f"{concept}: {self.n} of {self.n_records} records, MAE {self.mae:.1f}, |difference| "
            f"p50 {self.p50:.1f}, p90 {self.p90:.1f}, p95 {self.p95:.1f}, largest "
            f"{self.largest:.1f}; r {self.r:.3f}"
        )


def resampled(ecg: Ecg, fs_hz: float) -> Ecg:
    """``ecg`` resampled to ``fs_hz`` (Hz) by the pipeline's polyphase :func:`resample` (same
    leads, same duration, same demographics)."""
    return ecg.with_signal(resample(ecg.signal_mv, ecg.fs_hz, fs_hz).astype(np.float32), fs_hz)


def paired_values(ecg: Ecg, fs_hz: float, concepts: Sequence[str]) -> np.ndarray:
    """``[2, len(concepts)]``: each concept measured on ``ecg`` as recorded and resampled to
    ``fs_hz`` (NaN where the measurement declines)."""
    rows = []
    for version in (ecg, resampled(ecg, fs_hz)):
        measurements = measure(version)
        rows.append([measurements.value(c) for c in concepts])
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows])


def agreement(pairs: np.ndarray) -> Agreement:
    """Summary of ``pairs`` (``[n_records, 2]``, NaN = declined)."""
    both = np.all(np.isfinite(pairs), axis=1)
    first, second = pairs[both, 0], pairs[both, 1]
    absolute = np.abs(second - first)
    if absolute.size == 0:
        return Agreement(0, len(pairs), *(float("nan"),) * 6)
    p50, p90, p95 = np.percentile(absolute, [50, 90, 95])
    r = float(np.corrcoef(first, second)[0, 1]) if absolute.size >= 3 else float("nan")
    return Agreement(int(absolute.size), len(pairs), float(absolute.mean()), float(p50),
                     float(p90), float(p95), float(absolute.max()), r)


def records_of_role(dataset: str, root: Path, role: str) -> list[str]:
    """The record ids of ``dataset`` under ``root`` whose fine-tuning role is ``role``."""
    reader = open_record_dataset(dataset, root)
    folds = reader.index["strat_fold"] if dataset == "ptbxl" else None
    return [
        record_id for record_id in reader.record_ids()
        if record_role(dataset, record_id, None if folds is None else int(folds[record_id])) == role
    ]


def _record_pairs(task: tuple[str, str, str, float, tuple[str, ...]]) -> np.ndarray | None:
    """One record's paired values (runs in a worker process); ``None`` when it is unreadable."""
    dataset, root, record_id, fs_hz, concepts = task
    try:
        ecg = cached_record_dataset(dataset, root).load(record_id).ecg
    except EcgInputError:
        return None
    return paired_values(ecg, fs_hz, concepts)


def resampling_repeatability(
    dataset: str,
    root: Path,
    record_ids: Sequence[str],
    fs_hz: float = 250.0,
    concepts: Sequence[str] = REPEATABILITY_CONCEPTS,
    workers: int = 2,
) -> dict[str, Agreement]:
    """Per concept, how the measurement of each record agrees with the measurement of the same
    record resampled to ``fs_hz`` (Hz).

    Args:
        dataset: one of :data:`REPEATABILITY_DATASETS`.
        root: the dataset folder.
        record_ids: the records to measure (e.g. :func:`records_of_role`).
        fs_hz: the second rate (Hz).
        concepts: registry names.
        workers: processes (1 = in this process).
    """
    if dataset not in REPEATABILITY_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {REPEATABILITY_DATASETS}")
    tasks = [(dataset, str(root), record_id, fs_hz, tuple(concepts)) for record_id in record_ids]
    if workers <= 1:
        results = [_record_pairs(task) for task in tasks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_record_pairs, tasks, chunksize=4))
    stacked = np.stack([pairs for pairs in results if pairs is not None])  # [n, 2, K]
    return {concept: agreement(stacked[:, :, k]) for k, concept in enumerate(concepts)}
