"""Correctable fiducials (issue 15, deliver 3): a clinician moves a median-beat mark, ONE
``fiducial`` intervention overrides the intervals it defines, the risks recompute, Revert undoes
it, and the move is in the log, the exports and the analytics."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from app.db.session import Database
from app.services.audit import verify_chains
from tests.api.conftest import ludb_files


def _concepts(prediction: dict) -> dict[str, dict]:
    return {c["name"]: c for c in prediction["concepts"]}


@pytest.fixture
def analysed(client_as, data_dir: Path) -> tuple[object, dict]:
    """A clinician's client and a fresh prediction of LUDB record 3."""
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "3")).json()["id"]
    created = clinician.post(f"/api/v1/records/{record}/predictions")
    assert created.status_code == 201, created.text
    return clinician, created.json()


def test_moving_t_end_overrides_qt_and_tpeak_tend_in_one_logged_event(
        analysed, client_as, app_database: str) -> None:
    clinician, prediction = analysed
    marks = prediction["fiducials"]["fiducials_in_force"]
    assert marks["moved"] is False
    qrs_on, t_peak, t_end = (marks[k] * 1000 for k in ("qrs_onset_s", "t_peak_s", "t_end_s"))
    rr_s = _concepts(prediction)["rr"]["value"] / 1000.0

    moved = clinician.post(f"/api/v1/predictions/{prediction['id']}/fiducials",
                           json={"t_end_ms": round(t_end + 40, 1)})
    assert moved.status_code == 201, moved.text
    event = moved.json()
    assert (event["action"], event["concept"], event["source"]) == ("override", "fiducials",
                                                                    "fiducial")
    assert event["fiducials"]["before"]["t_end"] == pytest.approx(t_end, abs=0.1)
    assert event["fiducials"]["after"]["t_end"] == pytest.approx(t_end + 40, abs=0.1)
    assert set(event["fiducials"]["concepts"]) == {"qt", "tpeak_tend"}
    assert event["risks_after"] != event["risks_before"]

    after = _concepts(event["prediction"])
    qt = t_end + 40 - qrs_on
    assert after["qt"]["value"] == pytest.approx(qt, abs=0.2) and after["qt"]["overridden"]
    assert after["tpeak_tend"]["value"] == pytest.approx(t_end + 40 - t_peak, abs=0.2)
    # Every QTc re-derived from the moved QT (Fridericia: QT / RR^(1/3), s).
    assert after["qtc_fridericia"]["value"] == pytest.approx(qt / rr_s ** (1 / 3), rel=0.01)
    assert after["qtc_fridericia"]["value"] > (qt - 40) / rr_s ** (1 / 3)
    assert not after["qrs"]["overridden"] and not after["jtpeak"]["overridden"]
    risks = {r["task"]: r["probability"] for r in event["prediction"]["risks"]}
    assert risks == pytest.approx(event["risks_after"])
    in_force = event["prediction"]["fiducials"]["fiducials_in_force"]
    assert in_force["moved"] and in_force["t_end_s"] == pytest.approx((t_end + 40) / 1000)

    # Exports (CSV, JSONL, Parquet) carry the move; analytics counts it.
    researcher = client_as("researcher")
    url = "/api/v1/exports/interventions"
    rows = [r for r in csv.DictReader(io.StringIO(researcher.get(url, params={"format": "csv"}).text))
            if r["intervention_id"] == str(event["id"])]
    assert rows[0]["source"] == "fiducial" and rows[0]["concept"] == "fiducials"
    assert json.loads(rows[0]["fiducials_after_ms"])["t_end"] == pytest.approx(t_end + 40, abs=0.1)
    assert json.loads(rows[0]["fiducials_before_ms"])["t_end"] == pytest.approx(t_end, abs=0.1)
    lines = [json.loads(line) for line in
             researcher.get(url, params={"format": "jsonl"}).text.splitlines()]
    assert [line["source"] for line in lines if line["intervention_id"] == event["id"]] == [
        "fiducial"]
    table = pq.read_table(io.BytesIO(researcher.get(url, params={"format": "parquet"}).content))
    parquet_rows = [r for r in table.to_pylist() if r["intervention_id"] == event["id"]]
    assert json.loads(parquet_rows[0]["fiducials_after_ms"]) == event["fiducials"]["after"]
    stats = researcher.get("/api/v1/analytics/interventions").json()
    assert any(c["concept"] == "fiducials" and c["overrides"] >= 1 for c in stats["by_concept"])

    # Revert undoes the move like any override.
    reverted = clinician.delete(f"/api/v1/predictions/{prediction['id']}/interventions/fiducials")
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["action"] == "revert"
    restored = _concepts(reverted.json()["prediction"])
    original = _concepts(prediction)
    for name in ("qt", "tpeak_tend", "qtc_fridericia"):
        assert not restored[name]["overridden"]
        assert restored[name]["value"] == pytest.approx(original[name]["value"])
    assert reverted.json()["prediction"]["fiducials"]["fiducials_in_force"]["moved"] is False
    again = clinician.delete(f"/api/v1/predictions/{prediction['id']}/interventions/fiducials")
    assert again.status_code == 422 and "nothing to revert" in again.json()["message"]

    db = Database(app_database)
    with db.read() as session:
        assert all(report.ok for report in verify_chains(session))
    db.dispose()


def test_a_later_typed_override_wins_and_a_second_move_keeps_the_first(analysed) -> None:
    clinician, prediction = analysed
    marks = prediction["fiducials"]["fiducials_in_force"]
    url = f"/api/v1/predictions/{prediction['id']}/fiducials"
    assert clinician.post(url, json={"t_end_ms": marks["t_end_s"] * 1000 + 20}).status_code == 201
    moved = clinician.post(url, json={"qrs_onset_ms": marks["qrs_onset_s"] * 1000 - 10}).json()
    assert set(moved["fiducials"]["concepts"]) == {"pr", "qt", "qrs", "tpeak_tend"}
    qt = _concepts(moved["prediction"])["qt"]["value"]
    assert qt == pytest.approx((marks["t_end_s"] - marks["qrs_onset_s"]) * 1000 + 30, abs=0.2)
    typed = clinician.post(f"/api/v1/predictions/{prediction['id']}/interventions",
                           json={"concept": "qt", "value": 480}).json()
    assert typed["previous_value"] == pytest.approx(qt)
    assert _concepts(typed["prediction"])["qt"]["value"] == 480
    assert _concepts(typed["prediction"])["qrs"]["overridden"]


def test_bad_moves_get_a_422_naming_the_fiducials(analysed) -> None:
    clinician, prediction = analysed
    marks = prediction["fiducials"]["fiducials_in_force"]
    url = f"/api/v1/predictions/{prediction['id']}/fiducials"
    before_peak = clinician.post(url, json={"t_end_ms": marks["t_peak_s"] * 1000 - 5})
    assert before_peak.status_code == 422
    assert "t_end" in before_peak.json()["message"] and "t_peak" in before_peak.json()["message"]
    outside = clinician.post(url, json={"t_end_ms": 1500})
    assert outside.status_code == 422 and "outside the median beat" in outside.json()["message"]
    assert clinician.post(url, json={}).status_code == 422
    assert clinician.post(url, json={"t_end_ms": "400"}).status_code == 422
    assert clinician.post(url, json={"u_end_ms": 400}).status_code == 422
    same = clinician.post(url, json={"t_end_ms": marks["t_end_s"] * 1000})
    assert same.status_code == 422 and "nothing moved" in same.json()["message"]
    assert clinician.get(f"/api/v1/predictions/{prediction['id']}/interventions").json() == []


def test_a_reviewed_record_refuses_a_move_with_423(analysed) -> None:
    clinician, prediction = analysed
    clinician.post(f"/api/v1/records/{prediction['record_id']}/review")
    marks = prediction["fiducials"]["fiducials_in_force"]
    locked = clinician.post(f"/api/v1/predictions/{prediction['id']}/fiducials",
                            json={"t_end_ms": marks["t_end_s"] * 1000 + 40})
    assert locked.status_code == 423 and locked.json()["error"] == "record_locked"
