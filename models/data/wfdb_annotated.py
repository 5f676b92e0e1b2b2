"""What the WFDB datasets with cardiologists' fiducial marks (LUDB, QTDB) have in common.

Both store each wave as a bracketed triplet of annotations: ``(`` onset, a peak symbol
(``p`` P wave, a beat label such as ``N`` for the QRS complex, ``t`` T wave, ``u`` U wave) and
``)`` offset. Some marks are missing (QTDB rarely marks T onset), so every onset/offset is
optional. LUDB marks each lead separately; QTDB marks once, looking at both leads together
(key :data:`ALL_LEADS`).

Times are in seconds from the first sample of the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.ecg.record import Ecg

Wave = Literal["P", "QRS", "T"]

#: Annotation key for marks made on all leads together rather than on one lead.
ALL_LEADS = "all"

#: The record splits a dataset reader can be asked for.
Split = Literal["dev"]

#: WFDB beat labels (``wfdb.io.annotation`` standard codes) that mark a QRS complex.
_BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
_PEAK_SYMBOL_WAVE: dict[str, Wave] = {"p": "P", "t": "T", **{s: "QRS" for s in _BEAT_SYMBOLS}}

class DatasetLayoutError(FileNotFoundError):
    """A dataset folder is missing files the reader needs; the message lists them."""


@dataclass(frozen=True)
class AnnotatedWave:
    """One wave marked by a cardiologist: peak, and onset/offset where marked (seconds)."""

    wave: Wave
    peak_s: float
    onset_s: float | None
    offset_s: float | None


@dataclass(frozen=True)
class AnnotatedRecord:
    """An ECG with the fiducials cardiologists marked on it.

    Attributes:
        record_id: the dataset's record name (``"1"`` for LUDB, ``"sel100"`` for QTDB).
        ecg: the signal as an :class:`Ecg` (mV, canonical lead names).
        waves: marked waves in time order, keyed by the canonical lead they were marked on,
            or by :data:`ALL_LEADS` when marked on all leads together.
        split: the record's split (``"dev"`` for every record of the development folders).
    """

    record_id: str
    ecg: Ecg
    waves: Mapping[str, tuple[AnnotatedWave, ...]]
    split: Split

    @property
    def annotated_span_s(self) -> tuple[float, float]:
        """First and last marked time over all leads (only part of a record is annotated)."""
        times = [
            t
            for waves in self.waves.values()
            for w in waves
            for t in (w.onset_s, w.peak_s, w.offset_s)
            if t is not None
        ]
        if not times:
            return (0.0, 0.0)
        return (min(times), max(times))


def waves_from_annotation(
    samples: Sequence[int], symbols: Sequence[str], fs_hz: float
) -> tuple[AnnotatedWave, ...]:
    """Turn a WFDB ``( peak )`` annotation stream into waves (U waves are skipped).

    Args:
        samples: annotation sample indices, ascending.
        symbols: annotation symbols, one per sample.
        fs_hz: sampling rate of the annotation in Hz.

    Returns:
        One :class:`AnnotatedWave` per P/QRS/T peak mark; the onset (offset) is the ``(``
        (``)``) immediately before (after) the peak, ``None`` when not marked.
    """
    waves: list[AnnotatedWave] = []
    for index, symbol in enumerate(symbols):
        wave = _PEAK_SYMBOL_WAVE.get(symbol)
        if wave is None:
            continue
        onset = samples[index - 1] if index > 0 and symbols[index - 1] == "(" else None
        offset = (
            samples[index + 1] if index + 1 < len(symbols) and symbols[index + 1] == ")" else None
        )
        waves.append(
            AnnotatedWave(
                wave=wave,
                peak_s=float(samples[index]) / fs_hz,
                onset_s=None if onset is None else float(onset) / fs_hz,
                offset_s=None if offset is None else float(offset) / fs_hz,
            )
        )
    return tuple(waves)


def read_annotation(record_path: Path, extension: str) -> tuple[AnnotatedWave, ...]:
    """Read one WFDB annotation file (``record_path.extension``) as waves."""
    import wfdb

    annotation = wfdb.rdann(str(record_path), extension)
    fs_hz = float(annotation.fs) if annotation.fs else float(wfdb.rdheader(str(record_path)).fs)
    return waves_from_annotation(list(annotation.sample), list(annotation.symbol), fs_hz)


def check_layout(root: Path, dataset: str, required: Iterable[str]) -> Path:
    """Return ``root`` when every ``required`` relative path exists below it.

    Raises:
        DatasetLayoutError: naming the dataset, the folder and every missing path (the first
            20, then a count).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset} folder {root} does not exist")
    missing = [path for path in required if not (root / path).exists()]
    if missing:
        shown = ", ".join(missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise DatasetLayoutError(f"{dataset} folder {root} is missing {shown}{more}")
    return root


def read_record_ids(records_file: Path) -> tuple[str, ...]:
    """The record names listed one per line in a PhysioNet ``RECORDS`` file."""
    lines = records_file.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def read_ecg(header_path: Path) -> Ecg:
    """The record as an :class:`Ecg` through the one WFDB input path (:func:`models.ecg.io.read_paths`,
    with the dataset limits that admit Holter-length records)."""
    from models.ecg.io import DATASET_LIMITS, read_paths

    return read_paths([header_path], DATASET_LIMITS).ecg
