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

import numpy as np

from models.ecg.record import Ecg, canonical_lead_name, normalise_age, normalise_sex

Wave = Literal["P", "QRS", "T"]

#: Annotation key for marks made on all leads together rather than on one lead.
ALL_LEADS = "all"

#: The record splits a dataset reader can be asked for.
Split = Literal["dev"]

#: WFDB beat labels (``wfdb.io.annotation`` standard codes) that mark a QRS complex.
_BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
_PEAK_SYMBOL_WAVE: dict[str, Wave] = {"p": "P", "t": "T", **{s: "QRS" for s in _BEAT_SYMBOLS}}

_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}


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


def ecg_from_wfdb(
    record_path: Path, age_years: object = None, sex: str | None = None
) -> Ecg:
    """Read a WFDB record with ``wfdb.rdrecord`` and convert it to an :class:`Ecg` in mV.

    Args:
        record_path: path without extension (``…/ludb/data/1``).
        age_years: age as the dataset states it (normalised, capped at 90).
        sex: sex as the dataset states it (normalised to ``"female"``/``"male"``).

    Raises:
        ValueError: when a channel's unit is not a voltage.
    """
    import wfdb

    record = wfdb.rdrecord(str(record_path))
    signal = np.asarray(record.p_signal, dtype=np.float64).T
    scale = []
    for name, unit in zip(record.sig_name, record.units):
        factor = _UNIT_TO_MV.get(str(unit).strip().lower())
        if factor is None:
            raise ValueError(f"{record_path}: channel {name!r} has non-voltage unit {unit!r}")
        scale.append(factor)
    return Ecg(
        signal_mv=(signal * np.asarray(scale)[:, None]).astype(np.float32),
        fs_hz=float(record.fs),
        lead_names=tuple(canonical_lead_name(name) for name in record.sig_name),
        age_years=normalise_age(age_years),  # type: ignore[arg-type]
        sex=normalise_sex(sex),
        source_format="wfdb",
    )
