"""Model and measurement disagreeing about a concept: the rule, "Check next" and the API."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Prediction
from app.db.session import Database
from models.bundle import LoadedBundle
from models.concepts import REGISTRY, get_concept
from models.disagreement import AGREEMENT_Z, disagreement, disagreements
from models.ecg.record import Ecg
from models.intervene import suggest
from models.nets.prediction import ConceptEstimate
from tests.api.conftest import ludb_files


def test_values_disagree_only_beyond_their_combined_uncertainty() -> None:
    qt_sd = get_concept("qt").measurement_sd
    assert qt_sd is not None
    combined = math.hypot(10.0, qt_sd)
    assert disagreement("qt", 400.0, 10.0, 400.0 + 0.99 * AGREEMENT_Z * combined) is None
    found = disagreement("qt", 455.0, 10.0, 364.0)
    assert found is not None and found.z == pytest.approx(91.0 / combined)
    assert found.text == "model 455 ms, measured 364 ms"
    assert disagreement("t_amplitude_ii", 0.4, 0.02, 0.1).text == "model 0.40 mV, measured 0.10 mV"
    # Nothing to compare: a missing value.
    assert disagreement("qt", 455.0, 10.0, None) is None
    # A finding: only a model more than 90 % sure of the opposite is flagged.
    bernoulli = lambda p: math.sqrt(p * (1 - p))
    found = disagreement("t_notched", 0.95, bernoulli(0.95), 0.0)
    assert found is not None and found.text == "model 95% likely, measured absent"
    assert disagreement("t_notched", 0.05, bernoulli(0.05), 1.0).text == (
        "model 5% likely, measured present")
    assert disagreement("t_notched", 0.85, bernoulli(0.85), 0.0) is None
    assert disagreement("t_notched", 0.95, bernoulli(0.95), 1.0) is None


def test_every_concept_states_a_measurement_sd() -> None:
    for concept in REGISTRY:
        assert concept.measurement_sd is not None and concept.measurement_sd > 0, concept.name


def test_disagreements_are_ordered_most_discordant_first() -> None:
    model = {"qt": ConceptEstimate(455.0, 10.0), "rr": ConceptEstimate(800.0, 20.0),
             "pr": ConceptEstimate(160.0, 10.0)}
    found = disagreements(model, {"qt": 364.0, "rr": 700.0, "pr": 162.0})
    assert list(found) == ["qt", "rr"]


def test_check_next_ranks_a_disagreeing_concept_first(demo_bundle: LoadedBundle,
                                                      ludb_ecg: Ecg) -> None:
    prediction = demo_bundle.predict([ludb_ecg])[0]
    qt = prediction.concepts["qt"]
    measured = {"qt": qt.value - 5 * qt.uncertainty - 60.0}
    for policy in ("expected_risk_change", "uncertainty", "random"):
        ranked = suggest(demo_bundle, prediction, {}, policy=policy, measured=measured)
        assert ranked[0].concept == "qt"
        assert ranked[0].reason_text.startswith(f"Check QT interval: model {qt.value:.0f} ms, "
                                                f"measured {measured['qt']:.0f} ms")
        assert [s.concept for s in ranked[1:]] == [
            s.concept for s in suggest(demo_bundle, prediction, {}, policy=policy)
            if s.concept != "qt"]
    # Once the clinician has set it, it is no longer suggested.
    assert "qt" not in [s.concept for s in suggest(demo_bundle, prediction, {"qt": 400.0},
                                                   measured=measured)]


def test_the_api_flags_disagreement_in_words_and_ranks_it_first(
        client_as, data_dir: Path, app_database: str) -> None:
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir)).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions").json()
    # Every flag the API shows follows the rule on the API's own numbers.
    for c in prediction["concepts"]:
        compared = c["probability"] if c["kind"] == "binary" else c["model_value"]
        expected = disagreement(c["name"], compared, c["uncertainty"], c["measured_value"])
        assert c["disagreement"] == (expected.text if expected else None), c["name"]
    # A measurement far from the model's QT (as a pipeline reading a U wave as T would give).
    qt = next(c for c in prediction["concepts"] if c["name"] == "qt")
    far = round(qt["model_value"] + 6 * qt["uncertainty"] + 100.0)
    db = Database(app_database)
    with db.write() as session:
        row = session.execute(select(Prediction).where(Prediction.id == prediction["id"])).scalar_one()
        measurements = dict(row.measurements)
        measurements["concepts"] = [
            {**entry, "value": far} if entry["name"] == "qt" else entry
            for entry in measurements["concepts"]]
        row.measurements = measurements
    db.dispose()
    view = clinician.get(f"/api/v1/predictions/{prediction['id']}").json()
    flagged = next(c for c in view["concepts"] if c["name"] == "qt")
    assert flagged["disagreement"] == f"model {qt['model_value']:.0f} ms, measured {far} ms"
    found = disagreements(
        {c["name"]: ConceptEstimate(c["model_value"], c["uncertainty"], c["probability"])
         for c in view["concepts"] if c["model_value"] is not None},
        {c["name"]: c["measured_value"] for c in view["concepts"]})
    assert view["suggestion"]["concept"] == next(iter(found))
    listed = clinician.get(f"/api/v1/predictions/{prediction['id']}/suggestion",
                           params={"policy": "uncertainty"}).json()
    assert listed[0]["concept"] == next(iter(found))
