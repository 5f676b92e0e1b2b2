"""What the WFDB datasets with cardiologists' fiducial marks (LUDB, QTDB) have in common.

:class:`AnnotatedWfdbDataset` is their loader base: a folder whose ``RECORDS`` file lists WFDB
records, each with its header, signal and annotation files, every record in the ``dev`` split
(development data for validating measurement; the held-out remainders are kept elsewhere).

Both store each wave as a bracketed triplet of annotations: ``(`` onset, a peak symbol
(``p`` P wave, a beat label such as ``N`` for the QRS complex, ``t`` T wave, ``u`` U wave) and
``)`` offset. Some marks are missing (QTDB rarely marks T onset), so every onset/offset is
optional. LUDB marks each lead separately; QTDB marks once, looking at both leads together
(key :data:`ALL_LEADS`).

Times are in seconds from the first sample of the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

import pandas as pd

from models.data.base import (
    RecordDataset,
    header_demographics,
    missing_files_error,
    require_entries,
)

Wave = Literal["P", "QRS", "T"]

#: Annotation key for marks made on all leads together rather than on one lead.
ALL_LEADS = "all"

#: WFDB beat labels (``wfdb.io.annotation`` standard codes) that mark a QRS complex.
_BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
_PEAK_SYMBOL_WAVE: dict[str, Wave] = {"p": "P", "t": "T", **{s: "QRS" for s in _BEAT_SYMBOLS}}


@dataclass(frozen=True)
class AnnotatedWave:
    """One wave marked by a cardiologist: peak, and onset/offset where marked (seconds)."""

    wave: Wave
    peak_s: float
    onset_s: float | None
    offset_s: float | None


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


def read_record_ids(records_file: Path) -> tuple[str, ...]:
    """The record names listed one per line in a PhysioNet ``RECORDS`` file."""
    lines = records_file.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


class AnnotatedWfdbDataset(RecordDataset):
    """A folder of WFDB records listed in ``RECORDS``, each with annotation files; all ``dev``.

    Subclasses set :attr:`name` and :attr:`annotation_extensions` and implement
    :meth:`fiducials`. Age and sex come from each header's comments.

    Raises:
        DatasetRootError: when ``RECORDS`` or any listed record's header, signal or annotation
            file is missing (the count and the first few are named).
    """

    label_names = ()
    task_labels = MappingProxyType({})
    split_rule = "every record of the folder is development data (dev)"
    #: Annotation file extensions every record must have.
    annotation_extensions: ClassVar[tuple[str, ...]]

    def __init__(self, root: Path | str) -> None:
        folder = require_entries(self.name, root, ("RECORDS",))
        paths = read_record_ids(folder / "RECORDS")
        missing = [
            f"{path}.{extension}"
            for path in paths
            for extension in ("hea", "dat", *self.annotation_extensions)
            if not (folder / f"{path}.{extension}").is_file()
        ]
        if missing:
            raise missing_files_error(self.name, folder, "files of the records in RECORDS", missing)
        demographics = [header_demographics(folder / f"{path}.hea") for path in paths]
        index = pd.DataFrame(
            {
                "record_id": [Path(path).name for path in paths],
                "split": "dev",
                "age_years": pd.array([age for age, _ in demographics], dtype="Int64"),
                "sex": [sex for _, sex in demographics],
                "path": list(paths),
            }
        )
        super().__init__(folder, index.set_index("record_id"))

    def record_base(self, record_id: str) -> Path:
        """The record's path without extension (``…/ludb/data/1``), as ``wfdb.rdann`` wants it."""
        return self.root / self.index.at[record_id, "path"]

    def record_paths(self, record_id: str) -> tuple[Path, ...]:
        """The record's ``.hea``/``.dat`` pair."""
        base = self.record_base(record_id)
        return Path(f"{base}.hea"), Path(f"{base}.dat")
