"""A fast stand-in for ``models.ecg.measure.measure`` that counts its calls across processes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from models.concepts import Flag, FlagLevel
from models.ecg.measure import ConceptValue, Measurements
from models.ecg.record import Ecg

#: Environment variable naming the folder where :func:`counting_measure` leaves one file per call
#: (worker processes inherit the environment, so calls are counted across them).
CALL_LOG_ENV = "QTLENS_TEST_MEASURE_CALLS"


def counting_measure(ecg: Ecg) -> Measurements:
    """A fast stand-in for ``measure``: RR from the record length, QT unavailable, the rest
    absent; leaves one file per call in the call log."""
    Path(os.environ[CALL_LOG_ENV], uuid.uuid4().hex).touch()
    entries = [
        ConceptValue("rr", 100.0 * ecg.duration_s, "ms", None, Flag(FlagLevel.NORMAL)),
        ConceptValue(
            "t_amplitude_ii", float(ecg.lead("II").max()), "mV", None, Flag(FlagLevel.NORMAL)
        ),
        ConceptValue("qt", None, "ms", "T end not found", Flag(FlagLevel.NORMAL)),
    ]
    return Measurements(
        concepts={entry.name: entry for entry in entries},
        median_beats={},
        global_fiducials=None,
        t_end_lead=None,
        beats=(),
        lead_quality={},
        record_reason=None,
        rhythm_reason=None,
    )


def calls(call_log: Path) -> int:
    """How many times :func:`counting_measure` ran with ``call_log`` as its log folder."""
    return len(list(call_log.iterdir()))
