"""Subject series through the API (issue 19): a baseline and an on-drug ECG of one series, the
change concepts beside the absolute values, the change-based TdP risk, overrides through a
change's inputs, "Check next" on the change head, the audit log and the exports."""

from __future__ import annotations

import csv
import io
from copy import deepcopy
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from scipy.special import logit
from sqlalchemy import create_engine, select

from app.db.models import AuditEvent
from app.services.changes import change_risk
from models.bundle import load_bundle
from models.change import change_names, get_change_concept
from models.ecg.synth.pairs import DrugPair, drug_pair
from models.heads.logistic import LogisticTaskHead
from models.tasks import Bands, get_task
from tests.clinic.conftest import DEMO_BUNDLE
from tests.heads.conftest import SHIPPED_HEAD
from tests.io.builders import wfdb_files


def pair_files(pair: DrugPair, which: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart files of one ECG of a synthetic drug pair (WFDB written by wfdb.wrsamp)."""
    ecg = getattr(pair, which).ecg
    files = wfdb_files(ecg.signal_mv, ecg.fs_hz, comments=[f"Age: {ecg.age_years}",
                                                            f"Sex: {ecg.sex}"])
    return [("files", (f.name, f.data, "application/octet-stream")) for f in files]


@pytest.fixture(scope="module")
def herg() -> DrugPair:
    return drug_pair("herg", 0)


def _upload(client: TestClient, files, **form) -> dict:
    response = client.post("/api/v1/records", files=files, data=form)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_series_links_a_baseline_and_an_on_drug_ecg(
    client_as, herg: DrugPair, app_database: str
) -> None:
    clinician = client_as("clinician")
    baseline = _upload(clinician, pair_files(herg, "baseline"), series="new", baseline="true")
    series_id = baseline["series_id"]
    assert series_id.startswith("SER-") and baseline["is_baseline"] is True
    on_drug = _upload(clinician, pair_files(herg, "on_drug"), series=series_id)
    assert on_drug["series_id"] == series_id and on_drug["is_baseline"] is False

    # Before the baseline is analysed: the series is known, no change is computed yet.
    first = clinician.post(f"/api/v1/records/{on_drug['id']}/predictions").json()
    assert first["series"]["baseline_record_id"] == baseline["id"]
    assert "not been analysed" in first["series"]["note"] and first["changes"] == []
    assert {r["task"]: r for r in first["risks"]}["tdp_risk"]["basis"] == "single"

    base_prediction = clinician.post(f"/api/v1/records/{baseline['id']}/predictions").json()
    assert base_prediction["series"]["note"] == "this is the series' baseline ECG"
    view = clinician.get(f"/api/v1/predictions/{first['id']}").json()
    assert view["series"]["baseline_prediction_id"] == base_prediction["id"]
    assert set(view["series"]["baseline_median_beats"]) >= {"II", "V5"}

    # Change concepts beside the absolute values: this ECG's value minus the baseline's.
    changes = {c["name"]: c for c in view["changes"]}
    assert list(changes) == list(change_names())
    now = {c["name"]: c["value"] for c in view["concepts"]}
    before = {c["name"]: c["value"] for c in base_prediction["concepts"]}
    for name in ("delta_qtc_fridericia", "delta_jtpeak_c", "delta_tpeak_tend", "delta_heart_rate"):
        source = get_change_concept(name).source
        assert changes[name]["value"] == pytest.approx(now[source] - before[source])
        assert changes[name]["unit"] == get_change_concept(name).concept.unit
    assert changes["delta_t_amplitude_v5"]["unit"] == "%"

    # The TdP risk now comes from the change head, with change concepts as its contributions.
    head = LogisticTaskHead.load(SHIPPED_HEAD / "change_head.json")
    tdp = {r["task"]: r for r in view["risks"]}["tdp_risk"]
    assert tdp["basis"] == "change" and tdp["learned_from"] == head.learned_from
    assert set(tdp["contributions"]) == {f.name for f in head.features}
    values = {name: changes[name]["value"] for name in changes}
    assert tdp["probability"] == pytest.approx(head.probability(values, 1.0, None), abs=1e-9)
    # "Check next" works on the change head: it names the input behind a change concept.
    assert view["suggestion"]["concept"] in {"jtpeak", "tpeak_tend", "t_amplitude_v5"}
    assert "change-based TdP risk" in view["suggestion"]["reason"]

    # Overriding an input of ΔQTc (the RR of this ECG) moves ΔQTc, ΔJ-Tpeak_c and the risk.
    edit = clinician.post(f"/api/v1/predictions/{first['id']}/interventions",
                          json={"concept": "rr", "value": now["rr"] * 0.8})
    assert edit.status_code == 201, edit.text
    event = edit.json()
    assert event["risks_before"]["tdp_risk"] == pytest.approx(tdp["probability"])
    after = event["prediction"]
    after_changes = {c["name"]: c["value"] for c in after["changes"]}
    assert after_changes["delta_qtc_fridericia"] != pytest.approx(values["delta_qtc_fridericia"])
    assert after_changes["delta_jtpeak_c"] > values["delta_jtpeak_c"]  # J-Tpeak / RR^0.58
    after_tdp = {r["task"]: r for r in after["risks"]}["tdp_risk"]
    assert after_tdp["probability"] == pytest.approx(event["risks_after"]["tdp_risk"])
    # the move is measured on the head's logit scale: near 0 or 1 a large change of the change
    # head's input moves the probability by little (0.9999 -> 0.990 is 4.8 logits)
    assert abs(logit(after_tdp["probability"]) - logit(tdp["probability"])) > 0.5
    # The worklist row shows the same change-based risk in force as the record page.
    row = clinician.get(f"/api/v1/records/{on_drug['id']}").json()
    assert row["risks"]["tdp_risk"] == pytest.approx(after_tdp["probability"])
    assert row["risk_bands"]["tdp_risk"] == after_tdp["band"] and row["adjusted"] is True

    # Overriding an input on the baseline ECG moves the change the other way.
    base_qt = {c["name"]: c["value"] for c in base_prediction["concepts"]}["qt"]
    edited = clinician.post(f"/api/v1/predictions/{base_prediction['id']}/interventions",
                            json={"concept": "qt", "value": base_qt + 20})
    assert edited.status_code == 201, edited.text
    moved = clinician.get(f"/api/v1/predictions/{first['id']}").json()
    moved_changes = {c["name"]: c for c in moved["changes"]}
    assert moved_changes["delta_qtc_fridericia"]["baseline_value"] > changes[
        "delta_qtc_fridericia"]["baseline_value"]
    assert moved_changes["delta_qtc_fridericia"]["value"] < after_changes["delta_qtc_fridericia"]

    # Series changes are audited with pseudonymous ids only.
    engine = create_engine(app_database)
    with engine.connect() as connection:
        events = connection.execute(
            select(AuditEvent.detail).where(AuditEvent.event_type == "series_set")
        ).scalars().all()
    engine.dispose()
    assert {"record": baseline["id"], "series": series_id, "baseline": True} in events
    assert {"record": on_drug["id"], "series": series_id, "baseline": False} in events

    researcher = client_as("researcher")
    exported = researcher.get("/api/v1/exports/predictions", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    by_record = {row["record_id"]: row for row in rows}
    assert by_record[baseline["id"]]["series_id"] == series_id
    assert by_record[baseline["id"]]["is_baseline"].lower() == "true"
    assert by_record[on_drug["id"]]["is_baseline"].lower() == "false"

    # The "About this model" page says what the change head reads and was learned from.
    about = clinician.get("/about").text
    assert 'data-testid="about-change-tdp_risk"' in about
    assert "ΔJ-Tpeak corrected, ΔTpeak-Tend, ΔT amplitude (V5)" in about


def test_the_worklist_sets_series_and_moves_the_baseline(client_as, herg: DrugPair) -> None:
    clinician = client_as("clinician")
    first = _upload(clinician, pair_files(herg, "baseline"))
    second = _upload(clinician, pair_files(herg, "on_drug"))
    assert first["series_id"] is None and first["is_baseline"] is False
    made = clinician.put(f"/api/v1/records/{first['id']}/series",
                         json={"series": "new", "baseline": True}).json()
    series_id = made["series_id"]
    moved = clinician.put(f"/api/v1/records/{second['id']}/series",
                          json={"series": series_id, "baseline": True}).json()
    assert moved["is_baseline"] is True
    assert clinician.get(f"/api/v1/records/{first['id']}").json()["is_baseline"] is False
    out = clinician.put(f"/api/v1/records/{first['id']}/series", json={"series": None}).json()
    assert out["series_id"] is None
    # A review locks the series too: it decides which risk the record shows.
    assert clinician.post(f"/api/v1/records/{first['id']}/review").status_code == 200
    locked = clinician.put(f"/api/v1/records/{first['id']}/series", json={"series": series_id})
    assert locked.status_code == 423 and "reopen" in locked.json()["message"]


def test_the_concept_listing_has_the_change_concepts(client_as) -> None:
    listing = client_as(None).get("/api/v1/concepts").json()
    changes = {c["name"]: c for c in listing["change_concepts"]}
    assert list(changes) == list(change_names())
    delta_qtc = changes["delta_qtc_fridericia"]
    assert delta_qtc["unit"] == "ms" and delta_qtc["derived_from"] == ["qtc_fridericia"]
    assert [(t["value"], t["level"]) for t in delta_qtc["thresholds"]] == [
        (30, "borderline"), (60, "critical")]
    assert changes["delta_t_amplitude_v5"]["relative"] is True
    assert changes["delta_t_amplitude_v5"]["plausible_low"] is None  # open, not -inf
    qtc = {c["name"]: c for c in listing["concepts"]}["qtc_fridericia"]
    assert (500, "critical") in [(t["value"], t["level"]) for t in qtc["thresholds"]]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"series": "SER-AAAAAAAA"}, "no series SER-AAAAAAAA"),
        ({"series": "Jane Doe"}, "is not a series id"),
        ({"series": None, "baseline": True}, "cannot be a baseline"),
    ],
)
def test_bad_series_requests_get_clear_422s(client_as, data_dir, body, message) -> None:
    from tests.api.conftest import ludb_files

    clinician = client_as("clinician")
    record = _upload(clinician, ludb_files(data_dir, "2"))
    response = clinician.put(f"/api/v1/records/{record['id']}/series", json=body)
    assert response.status_code == 422 and message in response.json()["message"]
    form = {k: ("true" if v is True else v) for k, v in body.items() if v is not None}
    refused = clinician.post("/api/v1/records", files=ludb_files(data_dir, "2"), data=form)
    assert refused.status_code == 422 and message in refused.json()["message"]


def test_the_change_based_risk_is_banded_with_the_bundle_bands_in_force() -> None:
    """The change head's risk takes the bundle's TdP bands (``LoadedBundle.band``), not the
    task's defaults: a card whose TdP bands put its probability elsewhere moves its band."""
    bundle = load_bundle(DEMO_BUNDLE, device="cpu")
    baseline = {"jtpeak_c": 230.0, "tpeak_tend": 80.0, "t_amplitude_v5": 0.6}
    current = {"jtpeak_c": 250.0, "tpeak_tend": 90.0, "t_amplitude_v5": 0.5}
    risk = change_risk(bundle, current, baseline, "female", 40)
    assert risk is not None and risk.basis == "change"
    assert risk.band == bundle.band("tdp_risk", risk.probability).value
    p = risk.probability
    # Bands that put p in another band than the defaults (0.2/0.5) do.
    other = Bands(p / 4, p / 2, "test") if p < 0.5 else Bands(p / 2 + 0.25, (p + 1) / 2, "test")
    card = deepcopy(bundle.card)
    card["task_heads"]["tdp_risk"]["bands"] = other.to_dict()
    calibrated = replace(bundle, card=card)
    moved = change_risk(calibrated, current, baseline, "female", 40)
    assert moved is not None and moved.probability == p
    assert moved.band == other.band(p).value != get_task("tdp_risk").bands.band(p).value
