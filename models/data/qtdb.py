"""QTDB: 2-lead, 250 Hz, 15 min Holter excerpts with manual wave boundaries on selected beats.

Laguna P, Mark RG, Goldberger AL, Moody GB. A Database for Evaluation of Algorithms for
Measurement of QT and Other Waveform Intervals in the ECG. Computers in Cardiology 24:673-676
(1997). Layout expected below the root folder (``$QTLENS_DATA_DIR/qtdb``): ``RECORDS`` and per
record ``NAME.hea``, ``NAME.dat`` and ``NAME.q1c`` — the marks of cardiologist 1 (second pass)
on at least 30 beats, made looking at both leads together; QT = QRS ``(`` → T ``)``.

Every record of the folder belongs to the ``dev`` split.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from models.data.wfdb_annotated import (
    ALL_LEADS,
    AnnotatedRecord,
    Split,
    check_layout,
    ecg_from_wfdb,
    read_annotation,
    read_record_ids,
)

#: The annotation file used as the reference: cardiologist 1, second pass.
REFERENCE_ANNOTATOR = "q1c"


class Qtdb:
    """Reader of a QTDB folder; the folder is checked when the reader is made.

    Raises:
        DatasetLayoutError: when ``RECORDS`` or any listed record's header, signal or
            ``.q1c`` file is missing (all of them are listed).
    """

    name = "qtdb"

    def __init__(self, root: Path | str) -> None:
        root = check_layout(Path(root), "QTDB", ["RECORDS"])
        self._ids = read_record_ids(root / "RECORDS")
        required = [
            f"{record_id}.{extension}"
            for record_id in self._ids
            for extension in ("hea", "dat", REFERENCE_ANNOTATOR)
        ]
        self.root = check_layout(root, "QTDB", required)

    def record_ids(self, split: Split = "dev") -> tuple[str, ...]:
        """Record names (``"sel100"`` …) of ``split``, in ``RECORDS`` order."""
        return tuple(record_id for record_id in self._ids if self.split_of(record_id) == split)

    def split_of(self, record_id: str) -> Split:
        """The split of a record: every record of this folder is ``dev``."""
        return "dev"

    def load(self, record_id: str) -> AnnotatedRecord:
        """The record as an :class:`Ecg` with cardiologist 1's marks (key ``ALL_LEADS``)."""
        if record_id not in self._ids:
            raise KeyError(f"QTDB has no record {record_id!r}")
        record_path = self.root / record_id
        return AnnotatedRecord(
            record_id=record_id,
            ecg=ecg_from_wfdb(record_path),
            waves={ALL_LEADS: read_annotation(record_path, REFERENCE_ANNOTATOR)},
            split=self.split_of(record_id),
        )

    def __iter__(self) -> Iterator[AnnotatedRecord]:
        """Every ``dev`` record, loaded one at a time."""
        return (self.load(record_id) for record_id in self.record_ids())
