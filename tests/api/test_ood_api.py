"""The API carries the out-of-distribution score of every prediction, with its meaning."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import ludb_files


def test_prediction_carries_the_ood_score(client_as, data_dir: Path) -> None:
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "1")).json()
    created = clinician.post(f"/api/v1/records/{record['id']}/predictions")
    assert created.status_code == 201, created.text
    ood = created.json()["ood"]
    assert set(ood) == {"distance", "percentile", "high", "respect", "message"}
    assert ood["respect"] in {"noise", "wander", "limb_reversal", "features", "relative_features"}
    assert ood["distance"] > 0 and 0.0 <= ood["percentile"] <= 100.0
    assert ood["high"] == (ood["percentile"] > 99.0)
    assert ("unlike the real ECGs" in ood["message"]) == ood["high"]
    assert "held-out real ECG" in ood["message"]
    again = clinician.get(f"/api/v1/predictions/{created.json()['id']}").json()
    assert again["ood"] == ood
