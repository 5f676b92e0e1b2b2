"""The cart's own reading of a MUSE upload: stored with the record, in the API beside QTLens'
values, and in the predictions export (no name from the file anywhere)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import ludb_files


def test_muse_upload_keeps_the_carts_reading_and_exports_it(client_as, data_dir: Path) -> None:
    clinician = client_as("clinician")
    muse = (data_dir / "formats" / "muse" / "synthetic_muse.xml").read_bytes()
    stored = clinician.post("/api/v1/records", files=[("files", ("muse.xml", muse, "text/xml"))])
    assert stored.status_code == 201, stored.text
    record = stored.json()
    device = record["device"]
    assert device["source"] == "GE MUSE"
    values = {v["name"]: (v["value"], v["unit"], v["label"]) for v in device["values"]}
    assert values["qt"] == (402.0, "ms", "QT interval")
    assert values["qtc"] == (440.0, "ms", "QTc (cart's formula)")
    assert values["heart_rate"][:2] == (72.0, "bpm")
    assert device["statements"] == ["Sinus rhythm (synthetic example)"]
    assert clinician.get(f"/api/v1/records/{record['id']}").json()["device"] == device
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions")
    assert prediction.status_code == 201

    export = client_as("researcher").get("/api/v1/exports/predictions", params={"format": "jsonl"})
    assert export.status_code == 200
    rows = [json.loads(line) for line in export.text.splitlines() if line]
    row = next(r for r in rows if r["record_id"] == record["id"])
    assert row["cart_source"] == "GE MUSE"
    assert row["cart_qt"] == 402.0 and row["cart_qtc"] == 440.0 and row["cart_pr"] == 144.0
    assert row["cart_rr"] is None  # MUSE states no RR; nothing is derived in its place
    assert row["cart_statements"] == "Sinus rhythm (synthetic example)"
    for identifying in ("Synthetic", "EXAMPLE HOSPITAL", "Reader", "SYNTH0001"):
        assert identifying not in export.text


def test_formats_without_a_cart_reading_say_none(client_as, data_dir: Path) -> None:
    record = client_as("clinician").post("/api/v1/records", files=ludb_files(data_dir, "1")).json()
    assert record["device"] is None
