"""A measured QT that rests on too few leads reaches the concept panel flagged low-confidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import wfdb

from tests.measure.synthetic_ecg import only_leads, synthetic


def _two_lead_files(folder: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart ``files`` of a synthetic record reduced to leads II and V5 (WFDB .hea + .dat)."""
    ecg = only_leads(synthetic(seed=1).ecg, ("II", "V5"))
    wfdb.wrsamp("twolead", fs=ecg.fs_hz, units=["mV", "mV"], sig_name=list(ecg.lead_names),
                p_signal=np.ascontiguousarray(ecg.signal_mv.T.astype(np.float64)), fmt=["16", "16"],
                write_dir=str(folder))
    return [("files", (f"twolead{ext}", (folder / f"twolead{ext}").read_bytes(), "application/octet-stream"))
            for ext in (".hea", ".dat")]


def test_qt_on_two_leads_is_shown_low_confidence_with_its_qtc(client_as, tmp_path: Path, app_database: str) -> None:
    clinician = client_as("clinician")
    upload = clinician.post("/api/v1/records", files=_two_lead_files(tmp_path))
    assert upload.status_code == 201, upload.text
    created = clinician.post(f"/api/v1/records/{upload.json()['id']}/predictions")
    assert created.status_code == 201, created.text
    concepts = {c["name"]: c for c in created.json()["concepts"]}
    assert concepts["qt"]["measured_value"] is not None
    for name in ("qt", "qtc_fridericia"):
        assert "rests on 2 leads" in concepts[name]["measured_low_confidence"], concepts[name]
    assert concepts["heart_rate"]["measured_low_confidence"] is None
    # The researcher's export says it too, beside the measured values.
    rows = [json.loads(line) for line in client_as("researcher").get(
        "/api/v1/exports/predictions", params={"format": "jsonl"}).text.splitlines()]
    row = next(r for r in rows if r["prediction_id"] == created.json()["id"])
    assert row["measured_qt_low_confidence"] == concepts["qt"]["measured_low_confidence"]
    tpeak_tend_note = concepts["tpeak_tend"]["measured_low_confidence"]
    assert row["measured_tpeak_tend_low_confidence"] == tpeak_tend_note
    assert "rests on 2 leads" in row["measured_tpeak_tend_low_confidence"]
    assert row["measured_qt"] == concepts["qt"]["measured_value"]
