"""Exports longer than one batch: found by the long load test (a truncated download mid-stream).

The exports stream rows in batches of ``BATCH_ROWS`` (500); the batch size is lowered here so
that a handful of rows crosses several batch boundaries.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services import exports
from tests.api.conftest import login, make_settings
from tests.reliability.live_server import prepare_database
from tests.reliability.load import synthetic_uploads

OVERRIDES = 7


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A logged-in admin on an app with two-row export batches, with one prediction and
    ``OVERRIDES`` overrides of it."""
    monkeypatch.setattr(exports, "BATCH_ROWS", 2)
    prepare_database(database_url)
    with TestClient(create_app(make_settings(database_url))) as app_client:
        login(app_client, "admin1")
        upload = app_client.post("/api/v1/records", files=synthetic_uploads(1)[0])
        prediction = app_client.post(f"/api/v1/records/{upload.json()['id']}/predictions")
        for index in range(OVERRIDES):
            response = app_client.post(
                f"/api/v1/predictions/{prediction.json()['id']}/interventions",
                json={"concept": "qt", "value": 420.0 + index})
            assert response.status_code == 201, response.text
        yield app_client


@pytest.mark.parametrize("export_format", ["csv", "jsonl", "parquet"])
def test_an_export_of_several_batches_has_every_row(client: TestClient, export_format: str,
                                                    tmp_path: Path) -> None:
    response = client.get("/api/v1/exports/interventions", params={"format": export_format})
    assert response.status_code == 200
    if export_format == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
    elif export_format == "jsonl":
        rows = [json.loads(line) for line in response.text.splitlines()]
    else:
        (tmp_path / "export.parquet").write_bytes(response.content)
        rows = pq.read_table(tmp_path / "export.parquet").to_pylist()
    assert [float(row["new_value"]) for row in rows] == [
        pytest.approx(420.0 + index) for index in range(OVERRIDES)]
