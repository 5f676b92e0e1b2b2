"""One truth per quantity through the API: a QTc is a view of QT and RR, combinations outside
physiology are refused naming the concepts, and the worklist shows what the record page shows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.api.conftest import ludb_files


@pytest.fixture
def edit(client_as, data_dir: Path):
    """A clinician, a fresh prediction of LUDB record 4, and helpers around it."""
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "4")).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions").json()
    url = f"/api/v1/predictions/{prediction['id']}"
    return clinician, record, prediction, url


def _by_name(view: dict) -> dict[str, dict]:
    return {c["name"]: c for c in view["concepts"]}


def _risks(view: dict) -> dict[str, float]:
    return {r["task"]: r["probability"] for r in view["risks"]}


def test_bazett_and_the_fridericia_implying_the_same_qt_give_the_same_qt_and_risks(edit) -> None:
    clinician, _, _, url = edit
    bazett = clinician.post(f"{url}/interventions", json={"concept": "qtc_bazett", "value": 510})
    assert bazett.status_code == 201, bazett.text
    by_bazett = bazett.json()["prediction"]
    concepts = _by_name(by_bazett)
    assert abs(concepts["qtc_bazett"]["value"] - 510) < 0.01
    fridericia = concepts["qtc_fridericia"]["value"]  # the Fridericia QTc of that same QT
    assert clinician.delete(f"{url}/interventions/qt").status_code == 200
    again = clinician.post(f"{url}/interventions",
                           json={"concept": "qtc_fridericia", "value": fridericia})
    assert again.status_code == 201, again.text
    by_fridericia = again.json()["prediction"]
    assert _by_name(by_fridericia)["qt"]["value"] == pytest.approx(concepts["qt"]["value"],
                                                                   abs=1e-3)
    assert _risks(by_fridericia) == pytest.approx(_risks(by_bazett), abs=1e-6)
    # Every view follows: all four QTc and their flags are those of one QT.
    for name in ("qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges"):
        assert _by_name(by_fridericia)[name]["value"] == pytest.approx(concepts[name]["value"],
                                                                       abs=1e-3)
        assert _by_name(by_fridericia)[name]["flag"] == concepts[name]["flag"]
    # The log keeps what was typed beside the QT it set (a revert types nothing).
    events = clinician.get(f"{url}/interventions").json()
    assert sorted((e["id"], e["concept"], e["typed_concept"], e["typed_value"]) for e in events) == [
        (bazett.json()["id"], "qt", "qtc_bazett", 510), (bazett.json()["id"] + 1, "qt", None, None),
        (again.json()["id"], "qt", "qtc_fridericia", fridericia)]


def test_a_typed_heart_rate_puts_the_exact_rr_in_force(edit) -> None:
    """60 bpm is an RR of 1000 ms, not the 1000.00006 of the network's single precision: the
    log, the export and the page read what the clinician meant."""
    clinician, _, _, url = edit
    typed = clinician.post(f"{url}/interventions", json={"concept": "heart_rate", "value": 60})
    assert typed.status_code == 201, typed.text
    assert typed.json()["concept"] == "rr" and typed.json()["new_value"] == 1000.0
    concepts = _by_name(typed.json()["prediction"])
    assert concepts["rr"]["value"] == 1000.0
    assert concepts["heart_rate"]["value"] == pytest.approx(60.0, abs=1e-4)  # the network's view


def test_qt_800_with_rr_200_is_refused_naming_both(edit) -> None:
    clinician, _, _prediction, url = edit
    rr = clinician.post(f"{url}/interventions", json={"concept": "rr", "value": 200})
    assert rr.status_code == 422
    assert "QT interval" in rr.json()["message"] and "RR interval 200 ms" in rr.json()["message"]
    qt = clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 800})
    assert qt.status_code == 422, qt.text
    message = qt.json()["message"]
    assert "QTc" in message and "QT interval 800 ms" in message and "RR interval" in message
    prolonged = clinician.post(f"{url}/interventions",
                               json={"concept": "qtc_prolonged", "value": 1})
    assert prolonged.status_code == 422 and "never an input" in prolonged.json()["message"]
    assert clinician.get(f"{url}/interventions").json() == []  # nothing stored


def test_worklist_shows_the_values_in_force_after_an_override(edit) -> None:
    clinician, record, _, url = edit
    row = next(r for r in clinician.get("/api/v1/records").json() if r["id"] == record["id"])
    assert row["adjusted"] is False and row["qtc_name"] == "qtc_fridericia"
    created = clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 520})
    assert created.status_code == 201, created.text
    page = clinician.get(url).json()
    assert page["adjusted"] is True and page["primary_qtc"] == "qtc_fridericia"
    for listed in (next(r for r in clinician.get("/api/v1/records").json()
                        if r["id"] == record["id"]),
                   clinician.get(f"/api/v1/records/{record['id']}").json()):
        assert listed["adjusted"] is True
        assert listed["qtc_ms"] == _by_name(page)["qtc_fridericia"]["value"]
        assert listed["risks"] == _risks(page)
        assert listed["risk_bands"] == {r["task"]: r["band"] for r in page["risks"]}


def test_check_next_proposes_only_what_can_be_checked_for_both_risks(edit) -> None:
    clinician, _, _, url = edit
    typed = clinician.post(f"{url}/interventions", json={"concept": "qtc_bazett", "value": 470})
    page = typed.json()["prediction"]
    assert {s["task"] for s in page["suggestions"]} == {"lqts_risk", "tdp_risk"}
    for task in ("lqts_risk", "tdp_risk"):
        ranked = clinician.get(f"{url}/suggestion", params={"task": task, "limit": 50}).json()
        names = {s["concept"] for s in ranked}
        assert names and not names & {"qt", "qtc_bazett", "qtc_fridericia", "qtc_variability",
                                      "t_flatness", "t_asymmetry", "heart_rate", "jtpeak_c"}
        assert all(" 1 points" not in s["reason"] for s in ranked)


def test_exports_carry_review_state_risks_in_force_and_offsets(edit, client_as,
                                                               data_dir: Path) -> None:
    clinician, record, prediction, url = edit
    assert clinician.post(f"{url}/interventions", json={"concept": "tpeak_tend", "value": 130},
                          ).status_code == 201
    assert clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 470},
                          ).status_code == 201
    assert clinician.delete(f"{url}/interventions/tpeak_tend").status_code == 200
    page = clinician.get(url).json()
    assert clinician.post(f"/api/v1/records/{record['id']}/review").status_code == 200
    other = clinician.post("/api/v1/records", files=ludb_files(data_dir, "5")).json()
    assert clinician.post(f"/api/v1/records/{other['id']}/predictions").status_code == 201
    researcher = client_as("researcher")
    rows = [json.loads(line) for line in researcher.get(
        "/api/v1/exports/predictions", params={"format": "jsonl"}).text.splitlines()]
    row = next(r for r in rows if r["prediction_id"] == prediction["id"])
    assert row["review_status"] == "reviewed" and row["reviewed_by"].startswith("U-")
    assert row["adjusted"] is True
    for risk in page["risks"]:
        assert row[f"{risk['task']}_in_force"] == pytest.approx(risk["probability"], abs=1e-9)
        assert row[f"{risk['task']}_band_in_force"] == risk["band"]  # the page's band
        # A points head's score is exported as points, as the page shows it (else empty).
        assert row[f"{risk['task']}_points_in_force"] == risk["points"]
        assert row[risk["task"]] == prediction["risks"][[r["task"] for r in prediction["risks"]]
                                                        .index(risk["task"])]["probability"]
    # Every concept's value in force is the page's: QT as set, each QTc re-derived from it, the
    # reverted Tpeak-Tend the model's again.
    for concept in page["concepts"]:
        assert row[f"in_force_{concept['name']}"] == concept["value"], concept["name"]
    assert row["in_force_qt"] == 470 and row["in_force_tpeak_tend"] == row["model_tpeak_tend"]
    assert row["in_force_qtc_fridericia"] != row["model_qtc_fridericia"]
    schwartz = next(r for r in prediction["risks"] if r["task"] == "lqts_risk")
    assert schwartz["points"] is not None and row["lqts_risk_points"] == schwartz["points"]
    assert row["tdp_risk_points"] is None
    for moment in (row["created_at"], row["reviewed_at"]):
        assert datetime.fromisoformat(moment).utcoffset() is not None
    events = [json.loads(line) for line in researcher.get(
        "/api/v1/exports/interventions", params={"format": "jsonl"}).text.splitlines()]
    ours = [e for e in events if e["prediction_id"] == prediction["id"]]
    assert [(e["action"], e["source"], e["typed_concept"]) for e in ours] == [
        ("override", "typed", None), ("override", "typed", None), ("revert", "revert", None)]
    typed_qtc = [e for e in events if e["typed_concept"] == "qtc_bazett"]  # an earlier test's
    assert typed_qtc and all(e["concept"] == "qt" and e["typed_value"] for e in typed_qtc)
    assert all(datetime.fromisoformat(e["created_at"]).utcoffset() is not None for e in ours)
    # Every other prediction in the export (earlier tests': set, reverted, set again) agrees
    # with its own record page too.
    for other_row in rows:
        shown = researcher.get(f"/api/v1/predictions/{other_row['prediction_id']}").json()
        assert other_row["adjusted"] is shown["adjusted"], other_row["prediction_id"]
        assert other_row["lqts_risk_in_force"] == pytest.approx(_risks(shown)["lqts_risk"])
        assert all(other_row[f"in_force_{c['name']}"] == c["value"] for c in shown["concepts"])
    unadjusted = next(r for r in rows if r["adjusted"] is False)
    assert unadjusted["lqts_risk_in_force"] == unadjusted["lqts_risk"]
    assert unadjusted["in_force_qtc_fridericia"] == unadjusted["model_qtc_fridericia"]


def test_a_new_predictions_check_next_is_the_record_pages(edit) -> None:
    """The answer of a new prediction carries the ranking made where the ECG was analysed; the
    record page ranks the stored prediction again: both propose the same concepts."""
    clinician, _, prediction, url = edit
    page = clinician.get(url).json()

    def proposed(view: dict) -> list[tuple[str, str]]:
        return [(s["task"], s["concept"]) for s in view["suggestions"]]

    assert proposed(prediction) == proposed(page)
    assert {task for task, _ in proposed(page)} == {"lqts_risk", "tdp_risk"}
    assert [s["expected_risk_change"] for s in prediction["suggestions"]] == pytest.approx(
        [s["expected_risk_change"] for s in page["suggestions"]], abs=1e-6)


def test_each_risk_carries_where_its_bands_begin_and_its_band_agrees(edit) -> None:
    """The record page shows a risk, its band and where the head's bands begin; after an edit
    that moves the TdP risk the band still follows the cut-offs shown beside it."""
    clinician, _, _, url = edit
    for view in (clinician.get(url).json(),
                 clinician.post(f"{url}/interventions",
                                json={"concept": "qt", "value": 480}).json()["prediction"]):
        for risk in view["risks"]:
            cutoffs = risk["band_cutoffs"]
            assert cutoffs.startswith("intermediate from ") and ", high from " in cutoffs
            if risk["points"] is None:  # a probability head: the cut-offs are per cent
                low_end, high_end = (float(part.split(" from ")[1].rstrip(" %"))
                                     for part in cutoffs.split(", "))
                percent = 100.0 * risk["probability"]
                expected = ("high" if percent >= high_end else "intermediate"
                            if percent >= low_end else "low")
                # Shown rounded: only a probability on a rounded cut-off could read otherwise.
                assert risk["band"] == expected or min(abs(percent - low_end),
                                                       abs(percent - high_end)) < 0.01


def test_a_value_outside_the_range_shown_is_flagged_on_the_record_page(edit) -> None:
    clinician, _, _, url = edit
    response = clinician.post(f"{url}/interventions", json={"concept": "jtpeak", "value": 120})
    assert response.status_code == 201, response.text
    concepts = _by_name(response.json()["prediction"])
    jtpeak, corrected = concepts["jtpeak"], concepts["jtpeak_c"]
    # the raw interval's range holds at 60 bpm; its rate-corrected view carries the flag
    assert (jtpeak["value"], jtpeak["normal_range"]) == (120, "170–260 ms at 60 bpm")
    assert jtpeak["flag"] == "normal"
    assert corrected["value"] < 170 and corrected["normal_range"] == "170–280 ms"
    assert (corrected["flag"], corrected["flag_note"]) == ("borderline", "below the usual range")
