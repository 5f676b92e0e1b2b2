"""The composed tdp_risk head through the app: risks side by side with the data each head was
learned from, contributions of the composed head, interventions updating both risks."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from models.heads.logistic import LogisticTaskHead
from tests.api.conftest import ludb_files
from tests.heads.conftest import SHIPPED_HEAD


def test_tdp_risk_of_an_uploaded_ecg_comes_from_the_ecgrdvq_head(client_as, data_dir: Path) -> None:
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "3")).json()
    created = clinician.post(f"/api/v1/records/{record['id']}/predictions")
    assert created.status_code == 201, created.text
    prediction = created.json()
    risks = {r["task"]: r for r in prediction["risks"]}
    assert list(risks) == ["lqts_risk", "tdp_risk"]
    assert risks["lqts_risk"]["head"] == "Schwartz score (ECG items)"
    assert risks["tdp_risk"]["learned_from"].startswith(
        "logistic head on one ECG, learned on ECGRDVQ"
    )
    head = LogisticTaskHead.load(SHIPPED_HEAD / "head.json")
    inputs = {f.name for f in head.features}
    tdp_contributions = risks["tdp_risk"]["contributions"]
    assert {n for n, v in tdp_contributions.items() if v != 0} == inputs

    concepts = {c["name"]: c for c in prediction["concepts"]}
    edit = clinician.post(
        f"/api/v1/predictions/{prediction['id']}/interventions",
        json={"concept": "tpeak_tend", "value": concepts["tpeak_tend"]["value"] + 30},
    )
    assert edit.status_code == 201, edit.text
    event = edit.json()
    assert event["risks_after"]["tdp_risk"] > event["risks_before"]["tdp_risk"]  # +0.065 per ms
    assert event["risks_before"]["tdp_risk"] == risks["tdp_risk"]["probability"]
    after = {r["task"]: r for r in event["prediction"]["risks"]}
    change = after["tdp_risk"]["contributions"]["tpeak_tend"] - tdp_contributions["tpeak_tend"]
    per_ms = next(f.coefficient_per_unit for f in head.features if f.name == "tpeak_tend")
    assert abs(change - 30 * per_ms) < 1e-3


def test_the_admin_page_shows_what_each_head_was_learned_from(client_as) -> None:
    admin: TestClient = client_as("admin")
    page = admin.get("/admin")
    assert page.status_code == 200
    assert (
        'data-testid="task-head-source-tdp_risk">logistic head on one ECG, learned on ECGRDVQ'
        in page.text
    )
    assert "nothing learned: the published Schwartz score" in page.text
    # The inputs by the labels the record page uses, not by registry key.
    assert "QTc (Fridericia), J-Tpeak corrected, Tpeak-Tend" in page.text
    assert "qtc_fridericia, jtpeak_c" not in page.text
