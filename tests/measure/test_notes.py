"""The notes on how a record was measured say which QT it is, the lead QT, and pacing."""

from __future__ import annotations

from models.ecg.measure import measure
from models.ecg.notes import found_paced, measured_qt_ms, measurement_notes
from tests.measure.synthetic_ecg import paced_record, synthetic


def _notes(measured: dict) -> dict[str, str]:
    return {note.kind: note.text for note in measurement_notes(measured)}


def test_an_unpaced_record_names_its_global_qt_and_the_lead_qt_of_the_lqts_criteria() -> None:
    measured = measure(synthetic(seed=2).ecg).to_dict()
    notes = _notes(measured)
    assert found_paced(measured) is False and "paced" not in notes
    qt_ms, lead_qt = measured_qt_ms(measured), measured["lead_qt"]
    assert qt_ms is not None and lead_qt is not None
    assert notes["global_qt"].startswith(f"QT {qt_ms:.0f} ms is the global QT (CSE)")
    assert f"lead {measured['t_end_lead']}" in notes["global_qt"]
    assert notes["lead_qt"].startswith(f"QT in lead {lead_qt['lead']}")
    assert f"{lead_qt['qt_ms']:.0f} ms, QTcF {lead_qt['qtc_fridericia_ms']:.0f} ms" in notes["lead_qt"]


def test_a_paced_record_says_so_first_with_its_stimulus_count() -> None:
    record, paced = paced_record(seed=1)
    measured = measure(paced).to_dict()
    beats = record.truth.beat_fiducials_s.shape[0]
    assert found_paced(measured) is True and measured["pacing_stimuli"] == beats
    first = measurement_notes(measured)[0]
    assert first.kind == "paced"
    assert first.text.startswith(f"Paced rhythm: {beats} pacemaker stimuli were found")


def test_a_measurement_stored_before_pacing_was_looked_for_gets_no_guess() -> None:
    measured = measure(synthetic(seed=2).ecg).to_dict()
    del measured["pacing_stimuli"]
    assert found_paced(measured) is None
    assert "paced" not in _notes(measured)


def test_an_unmeasurable_record_says_why_and_claims_no_qt() -> None:
    notes = _notes({"record_reason": "no usable lead", "concepts": [], "lead_qt": None})
    assert notes == {"record": "Not measurable: no usable lead."}
