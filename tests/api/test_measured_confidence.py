"""A measured QT that rests on too few leads reaches the concept panel flagged low-confidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import wfdb

from tests.io import builders
from tests.measure.synthetic_ecg import only_leads, paced_record, synthetic


def _predicted(client, files: list[tuple[str, tuple[str, bytes, str]]]) -> dict:
    upload = client.post("/api/v1/records", files=files)
    assert upload.status_code == 201, upload.text
    created = client.post(f"/api/v1/records/{upload.json()['id']}/predictions")
    assert created.status_code == 201, created.text
    return created.json()


def _two_lead_files(folder: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart ``files`` of a synthetic record reduced to leads II and V5 (WFDB .hea + .dat)."""
    ecg = only_leads(synthetic(seed=1).ecg, ("II", "V5"))
    wfdb.wrsamp("twolead", fs=ecg.fs_hz, units=["mV", "mV"], sig_name=list(ecg.lead_names),
                p_signal=np.ascontiguousarray(ecg.signal_mv.T.astype(np.float64)), fmt=["16", "16"],
                write_dir=str(folder))
    return [("files", (f"twolead{ext}", (folder / f"twolead{ext}").read_bytes(), "application/octet-stream"))
            for ext in (".hea", ".dat")]


def test_qt_on_two_leads_is_shown_low_confidence_with_its_qtc(client_as, tmp_path: Path, app_database: str) -> None:
    prediction = _predicted(client_as("clinician"), _two_lead_files(tmp_path))
    concepts = {c["name"]: c for c in prediction["concepts"]}
    assert concepts["qt"]["measured_value"] is not None
    for name in ("qt", "qtc_fridericia"):
        assert "rests on 2 leads" in concepts[name]["measured_low_confidence"], concepts[name]
    assert concepts["heart_rate"]["measured_low_confidence"] is None
    # The researcher's export says it too, beside the measured values.
    rows = [json.loads(line) for line in client_as("researcher").get(
        "/api/v1/exports/predictions", params={"format": "jsonl"}).text.splitlines()]
    row = next(r for r in rows if r["prediction_id"] == prediction["id"])
    assert row["measured_qt_low_confidence"] == concepts["qt"]["measured_low_confidence"]
    tpeak_tend_note = concepts["tpeak_tend"]["measured_low_confidence"]
    assert row["measured_tpeak_tend_low_confidence"] == tpeak_tend_note
    assert "rests on 2 leads" in row["measured_tpeak_tend_low_confidence"]
    assert row["measured_qt"] == concepts["qt"]["measured_value"]


def test_a_paced_record_is_told_on_the_page_and_in_the_export_beside_the_lead_qt(
        client_as, app_database: str) -> None:
    _, paced = paced_record(seed=1)
    files = [("files", (f.name, f.data, "application/octet-stream"))
             for f in builders.wfdb_files(paced.signal_mv, paced.fs_hz, paced.lead_names)]
    clinician = client_as("clinician")
    prediction = _predicted(clinician, files)
    notes = {note["kind"]: note["text"] for note in prediction["measurement_notes"]}
    assert prediction["paced"] is True
    assert prediction["measurement_notes"][0]["kind"] == "paced"
    assert "not read against Long-QT thresholds" in notes["paced"]
    lead_qt = clinician.get(f"/api/v1/predictions/{prediction['id']}").json()["fiducials"]["lead_qt"]
    assert notes["lead_qt"].startswith(f"QT in lead {lead_qt['lead']}")
    rows = [json.loads(line) for line in client_as("researcher").get(
        "/api/v1/exports/predictions", params={"format": "jsonl"}).text.splitlines()]
    row = next(r for r in rows if r["prediction_id"] == prediction["id"])
    assert row["paced"] is True
    assert (row["measured_lead_qt_lead"], row["measured_lead_qt_ms"]) == (lead_qt["lead"],
                                                                          lead_qt["qt_ms"])
