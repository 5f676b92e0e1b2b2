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
    >>> record.fiducials["II"][0].wave, record.ecg.fs_hz  # doctest: +SKIP
    ('QRS', 500.0)
"""

from __future__ import annotations

from collections.abc import Mapping

from models.data.wfdb_annotated import AnnotatedWave, AnnotatedWfdbDataset, read_annotation
from models.ecg.record import canonical_lead_name

#: Annotation file extensions, one per lead, as LUDB names them.
LEAD_EXTENSIONS: tuple[str, ...] = (
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
)


class Ludb(AnnotatedWfdbDataset):
    """Reader of a LUDB folder; the folder is checked when the reader is made."""

    name = "ludb"
    annotation_extensions = LEAD_EXTENSIONS

    def fiducials(self, record_id: str) -> Mapping[str, tuple[AnnotatedWave, ...]]:
        """The cardiologists' marks of every lead, keyed by canonical lead name."""
        base = self.record_base(record_id)
        return {
            canonical_lead_name(extension): read_annotation(base, extension)
            for extension in LEAD_EXTENSIONS
        }
