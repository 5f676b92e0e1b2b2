"""How a record was measured, in plain sentences: which QT the ``qt`` concept is, the lead QT
the LQTS criteria use, what the global T end rests on, and whether the rhythm was paced.

The notes are read from the stored measurement (:meth:`models.ecg.measure.Measurements.to_dict`,
the JSON a prediction keeps, or its :meth:`~models.ecg.measure.Measurements.summary_dict`
without the traces), so the record page, the API, the exports and ``qtlens measure``
say the same thing of the same numbers. A measurement stored before a field existed gives no
note about that field (never a guess).

References: the global QT of the CSE definition (CSE Working Party, Eur Heart J 6:815, 1985);
the lead QT of the LQTS criteria in lead II or V5 by the tangent method (Postema & Wilde, Curr
Cardiol Rev 10:287, 2014; Schwartz & Crotti, Circulation 124:2181, 2011); QT in paced rhythm is
not read against LQTS thresholds (Rautaharju et al., AHA/ACCF/HRS recommendations part IV,
Circulation 119:e241, 2009: a wide QRS lengthens the QT without a repolarisation change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from models.ecg.measure import stored_concepts

NoteKind = Literal["global_qt", "lead_qt", "paced", "rhythm", "record"]


@dataclass(frozen=True)
class MeasurementNote:
    """One note: what it is about (``kind``) and the sentence a clinician reads."""

    kind: NoteKind
    text: str


def found_paced(measured: Mapping[str, Any]) -> bool | None:
    """Whether a stored measurement found the record paced (``None``: measured before QTLens
    looked for stimuli); :func:`models.ecg.pacing.is_paced` is the rule that decided it."""
    count = measured.get("pacing_stimuli")
    return None if count is None else count > 0


def measured_qt_ms(measured: Mapping[str, Any]) -> float | None:
    """The measured global QT (ms; ``None`` when it was not measured)."""
    return stored_concepts(measured).get("qt", {}).get("value")


def measurement_notes(measured: Mapping[str, Any]) -> tuple[MeasurementNote, ...]:
    """The notes on one stored measurement, most important first (empty for an empty one)."""
    notes: list[MeasurementNote] = []
    if measured.get("record_reason"):
        notes.append(MeasurementNote("record", f"Not measurable: {measured['record_reason']}."))
    if found_paced(measured):
        notes.append(MeasurementNote(
            "paced",
            f"Paced rhythm: {measured['pacing_stimuli']} pacemaker stimuli were found and "
            "bridged before filtering. A paced QRS is wide, so the QT and what is built on it "
            "are not read against Long-QT thresholds; check the intrinsic rhythm's ECG."))
    if measured.get("rhythm_reason"):
        notes.append(MeasurementNote(
            "rhythm", f"Rate corrections are off: {measured['rhythm_reason']}."))
    qt_ms = measured_qt_ms(measured)
    if qt_ms is not None:
        notes.append(MeasurementNote("global_qt", _global_qt_text(measured, qt_ms)))
    lead_qt = measured.get("lead_qt")
    if lead_qt is not None:
        qtcf = lead_qt.get("qtc_fridericia_ms")
        notes.append(MeasurementNote(
            "lead_qt",
            f"QT in lead {lead_qt['lead']} (its own QRS onset to its tangent T end, the lead "
            f"the Long-QT criteria use): {lead_qt['qt_ms']:.0f} ms"
            + ("" if qtcf is None else f", QTcF {qtcf:.0f} ms") + "."))
    elif qt_ms is not None:
        notes.append(MeasurementNote(
            "lead_qt", "No lead QT: neither lead II nor V5 has both a QRS onset and a T end."))
    return tuple(notes)


def _global_qt_text(measured: Mapping[str, Any], qt_ms: float) -> str:
    """What the measured global QT (ms) is and which leads its T end rests on."""
    text = (f"QT {qt_ms:.0f} ms is the global QT (CSE): the earliest QRS onset to the latest "
            "T end over all leads, an outlying lead capped")
    lead, support = measured.get("t_end_lead"), measured.get("t_end_support")
    if lead:
        leads = "" if not support else f"; {support} lead{'s' if support != 1 else ''} agree"
        text += f"; its T end follows lead {lead}{leads}"
    return text + "."
