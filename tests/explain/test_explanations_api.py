"""``GET /api/v1/predictions/{id}/explanations`` on the app with the shipped demo CBM."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.services.explanations import MAX_POINTS_PER_LEAD
from models.explain.attributions import method_names
from tests.api.conftest import app_client, app_database, client_as, ludb_files  # noqa: F401

URL = "/api/v1/predictions/{}/explanations"


@pytest.fixture(scope="module")
def prediction(app_client: TestClient, data_dir: Path) -> dict:  # noqa: F811
    """A LUDB record uploaded and predicted by a clinician."""
    from tests.api.conftest import login

    client = login(TestClient(app_client.app), "clinician1")
    record = client.post("/api/v1/records", files=ludb_files(data_dir, "3")).json()["id"]
    predicted = client.post(f"/api/v1/records/{record}/predictions").json()
    client.close()
    return predicted


def test_integrated_gradients_of_the_risk(client_as, prediction: dict) -> None:  # noqa: F811
    client = client_as("researcher")  # any logged-in role may look
    response = client.get(URL.format(prediction["id"]), params={"method": "ig",
                                                                 "target": "tdp_risk"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cached"] is False
    assert body["method"] == "ig" and body["target_unit"] == "logit" and body["signed"]
    risk = next(r for r in prediction["risks"] if r["task"] == "tdp_risk")
    assert 1 / (1 + math.exp(-body["target_value"])) == pytest.approx(risk["probability"], abs=1e-4)
    assert [lead["lead"] for lead in body["leads"]] == [
        "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    values = [v for lead in body["leads"] for v in lead["values"]]
    assert all(len(lead["values"]) == MAX_POINTS_PER_LEAD for lead in body["leads"])
    assert body["fs_hz"] == pytest.approx(50.0)
    assert body["start_s"] == pytest.approx(0.005)  # the centre of the first 2-sample block
    assert min(values) >= -1.0 and max(values) <= 1.0
    assert max(abs(v) for v in values) == pytest.approx(1.0)  # the robust scale clips the top 1 %
    assert min(values) < 0 < max(values)
    assert body["scale"] > 0 and body["completeness_gap"] < 0.1
    assert {m["name"] for m in body["methods"]} == set(method_names())
    targets = {t["name"] for t in body["targets"]}
    assert {"tdp_risk", "qt", "qtc_fridericia"} <= targets
    assert "lqts_risk" not in targets  # the Schwartz points head: nothing to attribute
    beats = {m["lead"]: m for m in body["median_beats"]}
    assert len(beats) >= 10 and all(-1 <= v <= 1 for m in beats.values() for v in m["values"])

    again = client.get(URL.format(prediction["id"]), params={"method": "ig",
                                                              "target": "tdp_risk"}).json()
    assert again["cached"] is True and again["leads"] == body["leads"]


def test_a_points_head_is_refused_and_the_default_is_a_learned_target(
        client_as, prediction: dict) -> None:  # noqa: F811
    client = client_as("clinician")
    refused = client.get(URL.format(prediction["id"]), params={"target": "lqts_risk"})
    assert refused.status_code == 422
    assert "fixed points" in refused.json()["message"] and "qtc_bazett" in refused.json()["message"]
    default = client.get(URL.format(prediction["id"]))
    assert default.status_code == 200, default.text
    assert default.json()["target"] == default.json()["targets"][0]["name"] == "tdp_risk"


def test_a_concept_target_is_explained_in_its_unit(client_as, prediction: dict) -> None:  # noqa: F811
    body = client_as("clinician").get(URL.format(prediction["id"]),
                                      params={"method": "saliency", "target": "qt"}).json()
    qt = next(c for c in prediction["concepts"] if c["name"] == "qt")
    assert body["target_unit"] == "ms" and body["target_value"] == pytest.approx(
        qt["model_value"], abs=0.01)
    assert body["signed"] is False and body["baseline_value"] is None
    assert min(v for lead in body["leads"] for v in lead["values"]) >= 0.0


@pytest.mark.parametrize(("params", "status"), [
    ({"method": "lime"}, 422),
    ({"target": "no_such_target"}, 422),
    ({"method": "ig", "target": ""}, 422),
])
def test_bad_method_or_target_is_422(client_as, prediction: dict, params: dict,  # noqa: F811
                                     status: int) -> None:
    response = client_as("clinician").get(URL.format(prediction["id"]), params=params)
    assert response.status_code == status
    assert "use one of" in response.text


def test_unknown_prediction_and_anonymous(client_as) -> None:  # noqa: F811
    assert client_as("clinician").get(URL.format(999_999)).status_code == 404
    assert client_as(None).get(URL.format(1)).status_code == 401

