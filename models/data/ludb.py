"""LUDB: 12-lead, 10 s, 500 Hz ECGs with P/QRS/T onsets, peaks and offsets marked in every lead.

Kalyakulina AI et al. LUDB: A New Open-Access Validation Tool for Electrocardiogram Delineation
Algorithms. IEEE Access 8:186181-186190 (2020). Layout expected below the root folder
(``$QTLENS_DATA_DIR/ludb``): ``RECORDS`` listing ``data/N``, and per record ``data/N.hea``,
``data/N.dat`` and one annotation file per lead (``data/N.i`` … ``data/N.v6``). Cardiologists
marked only the central part of each record (the first and last 1-2 s are unmarked).

Every record of the folder belongs to the ``dev`` split (the held-out remainder of LUDB is kept
outside the development data).

Example:
    >>> from models.data.ludb import Ludb
    >>> from models.data.paths import default_data_dir
    >>> ludb = Ludb(default_data_dir() / "ludb")  # doctest: +SKIP
    >>> record = ludb.load("1")  # doctest: +SKIP
    >>> record.waves["II"][0].wave, record.ecg.fs_hz  # doctest: +SKIP
    ('QRS', 500.0)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from models.data.wfdb_annotated import (
    AnnotatedRecord,
    Split,
    check_layout,
    ecg_from_wfdb,
    read_annotation,
    read_record_ids,
)
from models.ecg.record import canonical_lead_name

#: Annotation file extensions, one per lead, as LUDB names them.
LEAD_EXTENSIONS: tuple[str, ...] = (
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
)


class Ludb:
    """Reader of a LUDB folder; the folder is checked when the reader is made.

    Raises:
        DatasetLayoutError: when ``RECORDS`` or any listed record's header, signal or
            per-lead annotation file is missing (all of them are listed).
    """

    name = "ludb"

    def __init__(self, root: Path | str) -> None:
        root = check_layout(Path(root), "LUDB", ["RECORDS"])
        self._paths = read_record_ids(root / "RECORDS")
        required = [
            f"{path}.{extension}"
            for path in self._paths
            for extension in ("hea", "dat", *LEAD_EXTENSIONS)
        ]
        self.root = check_layout(root, "LUDB", required)

    def record_ids(self, split: Split = "dev") -> tuple[str, ...]:
        """Record names (``"1"`` … ``"60"``) of ``split``, in ``RECORDS`` order."""
        return tuple(Path(path).name for path in self._paths if self.split_of(Path(path).name) == split)

    def split_of(self, record_id: str) -> Split:
        """The split of a record: every record of this folder is ``dev``."""
        return "dev"

    def load(self, record_id: str) -> AnnotatedRecord:
        """The record as an :class:`Ecg` with the per-lead marks of the cardiologists."""
        record_path = self._record_path(record_id)
        header_text = record_path.with_suffix(".hea").read_text(encoding="utf-8", errors="replace")
        ecg = ecg_from_wfdb(
            record_path,
            age_years=_header_field(header_text, "age"),
            sex=_header_field(header_text, "sex"),
        )
        waves = {
            canonical_lead_name(extension): read_annotation(record_path, extension)
            for extension in LEAD_EXTENSIONS
        }
        return AnnotatedRecord(record_id=record_id, ecg=ecg, waves=waves, split=self.split_of(record_id))

    def __iter__(self) -> Iterator[AnnotatedRecord]:
        """Every ``dev`` record, loaded one at a time."""
        return (self.load(record_id) for record_id in self.record_ids())

    def _record_path(self, record_id: str) -> Path:
        for path in self._paths:
            if Path(path).name == record_id:
                return self.root / path
        raise KeyError(f"LUDB has no record {record_id!r}")


def _header_field(header_text: str, name: str) -> str | None:
    """The value of a ``#<name>: value`` comment line of a LUDB header."""
    match = re.search(rf"^#\s*<{name}>:\s*(.*?)\s*$", header_text, flags=re.MULTILINE)
    return match.group(1) if match else None
