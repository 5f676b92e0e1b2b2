"""QTDB: 2-lead, 250 Hz, 15 min Holter excerpts with manual wave boundaries on selected beats.

Laguna P, Mark RG, Goldberger AL, Moody GB. A Database for Evaluation of Algorithms for
Measurement of QT and Other Waveform Intervals in the ECG. Computers in Cardiology 24:673-676
(1997). Layout expected below the root folder (``$QTLENS_DATA_DIR/qtdb``): ``RECORDS`` and per
record ``NAME.hea``, ``NAME.dat`` and ``NAME.q1c`` — the marks of cardiologist 1 (second pass)
on at least 30 beats, made looking at both leads together; QT = QRS ``(`` → T ``)``.

Every record of the folder belongs to the ``dev`` split.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.data.wfdb_annotated import (
    ALL_LEADS,
    AnnotatedWave,
    AnnotatedWfdbDataset,
    read_annotation,
)

#: The annotation file used as the reference: cardiologist 1, second pass.
REFERENCE_ANNOTATOR = "q1c"


class Qtdb(AnnotatedWfdbDataset):
    """Reader of a QTDB folder; the folder is checked when the reader is made."""

    name = "qtdb"
    annotation_extensions = (REFERENCE_ANNOTATOR,)

    def fiducials(self, record_id: str) -> Mapping[str, tuple[AnnotatedWave, ...]]:
        """Cardiologist 1's marks, made on both leads together (key ``ALL_LEADS``)."""
        return {ALL_LEADS: read_annotation(self.record_base(record_id), REFERENCE_ANNOTATOR)}
