"""The walking skeleton through the API: upload → predict → override → revert → export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db.models import AuditEvent, Intervention, Prediction, Record
from app.db.session import Database
from app.services.audit import verify_chains
from models.concepts import concept_names
from tests.api.conftest import ludb_files


def test_health_reports_the_model_and_its_device(app_client: TestClient) -> None:
    for path in ("/health", "/api/v1/health"):
        body = app_client.get(path).json()
        assert body["status"] == "ok" and body["model_loaded"] is True
        assert body["device"] == "cpu" and len(body["model_checksum"]) == 64
    ready = app_client.get("/api/v1/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_upload_predict_override_revert_export(client_as, data_dir: Path,
                                               app_database: str) -> None:
    clinician = client_as("clinician")
    upload = clinician.post("/api/v1/records", files=ludb_files(data_dir))
    assert upload.status_code == 201, upload.text
    record = upload.json()
    assert record["lead_names"][:3] == ["I", "II", "III"] and record["fs_hz"] == 500
    assert record["age_years"] == 51 and record["sex"] == "female"
    assert "comments" in record["removed_fields"]

    signal = clinician.get(f"/api/v1/records/{record['id']}/signal").json()
    assert len(signal["signal_mv"]) == 12 and len(signal["signal_mv"][0]) == 5000

    created = clinician.post(f"/api/v1/records/{record['id']}/predictions")
    assert created.status_code == 201, created.text
    prediction = created.json()
    assert [c["name"] for c in prediction["concepts"]] == list(concept_names())
    qtc = next(c for c in prediction["concepts"] if c["name"] == "qtc_fridericia")
    assert 300 < qtc["model_value"] < 600 and qtc["unit"] == "ms"
    assert qtc["measured_value"] is None or 300 < qtc["measured_value"] < 600
    tdp_before = prediction["risks"][1]["probability"]

    edit = clinician.post(f"/api/v1/predictions/{prediction['id']}/interventions",
                          json={"concept": "qtc_fridericia", "value": 540, "comment": "calipers"})
    assert edit.status_code == 201, edit.text
    event = edit.json()
    after = {c["name"]: c for c in event["prediction"]["concepts"]}
    rr_s = after["rr"]["value"] / 1000
    # A typed QTc sets QT with the RR in force and that formula: the event is the QT it set.
    assert event["concept"] == "qt" and event["previous_value"] == after["qt"]["model_value"]
    assert abs(event["new_value"] - 540 * rr_s ** (1 / 3)) < 0.01
    assert event["risks_before"]["tdp_risk"] == tdp_before
    # A longer QTc (Fridericia, which the TdP head reads) raises the risk.
    assert event["risks_after"]["tdp_risk"] > tdp_before
    assert abs(after["qtc_fridericia"]["value"] - 540) < 0.01
    assert after["qt"]["overridden"] and after["qt"]["overridden_by"] == "clinician1"
    assert not after["qtc_fridericia"]["overridden"] and after["qtc_fridericia"]["sets"] == "qt"

    qt_edit = clinician.post(f"/api/v1/predictions/{prediction['id']}/interventions",
                             json={"concept": "qt", "value": 480, "source": "caliper"}).json()
    rederived = {c["name"]: c for c in qt_edit["prediction"]["concepts"]}
    assert abs(rederived["qtc_bazett"]["value"] - 480 / rr_s ** 0.5) < 0.5  # QT moves Bazett
    assert abs(rederived["qtc_fridericia"]["value"] - 480 / rr_s ** (1 / 3)) < 0.5  # and every QTc

    # Reverting a QTc reverts the QT it set: back to the model's values.
    revert = clinician.delete(f"/api/v1/predictions/{prediction['id']}/interventions/qtc_fridericia")
    assert revert.status_code == 200, revert.text
    assert revert.json()["concept"] == "qt" and revert.json()["source"] == "revert"
    reverted = {c["name"]: c for c in revert.json()["prediction"]["concepts"]}
    assert not reverted["qt"]["overridden"]
    assert abs(reverted["qtc_fridericia"]["value"] - qtc["model_value"]) < 0.01

    history = clinician.get(f"/api/v1/predictions/{prediction['id']}/interventions").json()
    assert [h["action"] for h in history] == ["override", "override", "revert"]

    researcher = client_as("researcher")
    export = researcher.get("/api/v1/exports/interventions", params={"format": "csv"})
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    ours = [r for r in rows if r["record_id"] == record["id"]]
    assert [r["action"] for r in ours] == ["override", "override", "revert"]
    assert ours[0]["concept"] == "qt" and ours[2]["source"] == "revert"
    assert float(ours[0]["after_tdp_risk"]) > float(ours[0]["before_tdp_risk"])
    assert ours[0]["user"].startswith("U-") and "clinician1" not in export.text
    assert "calipers" not in export.text  # free-text comments are not exported

    db = Database(app_database)
    with db.read() as session:
        assert all(report.ok for report in verify_chains(session))
        kinds = set(session.execute(sa.select(AuditEvent.event_type)).scalars())
    db.dispose()
    assert {"login", "upload", "prediction", "intervention", "export"} <= kinds


def test_the_latest_event_of_each_concept_decides_what_is_in_force(client_as,
                                                                    data_dir: Path) -> None:
    clinician, second = client_as("clinician"), client_as("admin")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "3")).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions").json()
    url = f"/api/v1/predictions/{prediction['id']}/interventions"

    def in_force() -> dict[str, tuple[float, str | None]]:
        view = clinician.get(f"/api/v1/predictions/{prediction['id']}").json()
        return {c["name"]: (c["value"], c["overridden_by"]) for c in view["concepts"]
                if c["overridden"]}

    for value in (450, 470):
        assert clinician.post(url, json={"concept": "qt", "value": value}).status_code == 201
    assert second.post(url, json={"concept": "tpeak_tend", "value": 120}).status_code == 201
    assert in_force() == {"qt": (470, "clinician1"), "tpeak_tend": (120, "admin1")}
    assert clinician.delete(f"{url}/qt").status_code == 200
    assert in_force() == {"tpeak_tend": (120, "admin1")}
    assert clinician.delete(f"{url}/qt").status_code == 422  # nothing left to revert
    assert second.post(url, json={"concept": "qt", "value": 430}).status_code == 201
    assert in_force() == {"qt": (430, "admin1"), "tpeak_tend": (120, "admin1")}


def test_bad_values_are_refused_with_a_reason(client_as, data_dir: Path) -> None:
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "2")).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions").json()
    url = f"/api/v1/predictions/{prediction['id']}/interventions"
    too_long = clinician.post(url, json={"concept": "qt", "value": 5000})
    assert too_long.status_code == 422 and "between" in too_long.json()["message"]
    unknown = clinician.post(url, json={"concept": "qt_magic", "value": 400})
    assert unknown.status_code == 422 and "qt_magic" in unknown.json()["message"]
    nothing = clinician.delete(f"{url}/qt")
    assert nothing.status_code == 422 and "not overridden" in nothing.json()["message"]
    assert clinician.post("/api/v1/predictions/999999/interventions",
                          json={"concept": "qt", "value": 400}).status_code == 404


def test_a_worklist_offset_beyond_64_bits_is_refused_not_a_server_error(client_as) -> None:
    clinician = client_as("clinician")
    huge = clinician.get("/api/v1/records", params={"offset": "6065918615820068454400"})
    assert huge.status_code == 422 and "offset" in huge.json()["message"]
    assert clinician.get("/api/v1/records", params={"offset": "1000000000"}).status_code == 200


def _counts(database_url: str) -> tuple[int, int, int]:
    db = Database(database_url)
    with db.read() as session:
        counts = tuple(session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                       for t in (Record, Prediction, Intervention))
    db.dispose()
    return counts  # type: ignore[return-value]


def test_bad_uploads_get_a_4xx_naming_the_problem_and_store_nothing(
        client_as, data_dir: Path, app_database: str) -> None:
    clinician = client_as("clinician")
    before = _counts(app_database)
    header = (data_dir / "ludb" / "data" / "3.hea").read_bytes()
    data = (data_dir / "ludb" / "data" / "3.dat").read_bytes()

    not_ecg = clinician.post("/api/v1/records", files=[("files", ("photo.jpg", b"\xff\xd8\xff\xe0" + b"x" * 500, "image/jpeg"))])
    assert not_ecg.status_code == 415 and not_ecg.json()["error"] == "unsupported_format"

    lonely = clinician.post("/api/v1/records", files=[("files", ("3.hea", header, "text/plain"))])
    assert lonely.status_code == 422 and "3.dat" in lonely.json()["message"]

    lying = header.replace(b"500 5000\n", b"500 9000\n", 1)
    assert lying != header
    liar = clinician.post("/api/v1/records", files=[("files", ("3.hea", lying, "text/plain")),
                                                    ("files", ("3.dat", data, "application/octet-stream"))])
    assert liar.status_code == 422, liar.text
    assert liar.json()["field"] is not None

    truncated = clinician.post("/api/v1/records", files=[("files", ("3.hea", header, "text/plain")),
                                                         ("files", ("3.dat", data[:1000], "application/octet-stream"))])
    assert truncated.status_code == 422

    # One second of a 12-lead record, and HL7's 26 ms sample: too short to measure or predict.
    one_second = clinician.post("/api/v1/records", files=[
        ("files", ("3.hea", header.replace(b"500 5000\n", b"500 500\n", 1), "text/plain")),
        ("files", ("3.dat", data[: 500 * 12 * 2], "application/octet-stream"))])
    assert one_second.status_code == 422, one_second.text
    assert "only 1.00 s long" in one_second.json()["message"]
    aecg = (data_dir / "formats" / "aecg" / "minimum_aecg.xml").read_bytes()
    tiny = clinician.post("/api/v1/records", files=[("files", ("min.xml", aecg, "text/xml"))])
    assert tiny.status_code == 422 and "at least 2 s" in tiny.json()["message"], tiny.text

    assert _counts(app_database) == before
    assert clinician.get("/health").json()["status"] == "ok"


def test_oversized_upload_is_refused_before_reading(app_database: str, data_dir: Path) -> None:
    from app.main import create_app
    from tests.api.conftest import login, make_settings

    with TestClient(create_app(make_settings(app_database, max_upload_bytes=100_000))) as client:
        login(client, "clinician1")
        response = client.post("/api/v1/records", files=ludb_files(data_dir))
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_csrf_and_roles(client_as, app_client: TestClient) -> None:
    anonymous = client_as(None)
    assert anonymous.get("/api/v1/records").status_code == 401
    clinician = client_as("clinician")
    token = clinician.headers.pop("X-CSRF-Token")
    refused = clinician.post("/api/v1/records/ECG-NOPE/review")
    assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    clinician.headers["X-CSRF-Token"] = token
    assert clinician.post("/api/v1/records/ECG-NOPE/review").status_code == 404
    researcher = client_as("researcher")
    assert researcher.post("/api/v1/records", files=[("files", ("a.hea", b"x", "text/plain"))]).status_code == 403
    assert clinician.get("/api/v1/exports/interventions").status_code == 403


def test_blank_export_filters_mean_no_bound(client_as) -> None:
    researcher = client_as("researcher")
    for kind in ("interventions", "predictions"):
        response = researcher.get(f"/api/v1/exports/{kind}",
                                  params={"format": "jsonl", "from": "", "to": "", "model": ""})
        assert response.status_code == 200, response.text
    too_long = researcher.get("/api/v1/exports/interventions", params={"model": "x" * 200})
    assert too_long.status_code == 422 and too_long.json()["field"] == "query.model"


def test_original_bytes_are_kept_only_when_configured(app_database: str, data_dir: Path) -> None:
    import io as io_module

    import numpy as np

    from app.main import create_app
    from tests.api.conftest import login, make_settings

    files = ludb_files(data_dir, "9")
    stored = {}
    for keep in (False, True):
        with TestClient(create_app(make_settings(app_database, keep_original_bytes=keep))) as client:
            login(client, "clinician1")
            stored[keep] = client.post("/api/v1/records", files=files).json()["id"]
    db = Database(app_database)
    with db.read() as session:
        blobs = {keep: session.execute(sa.select(Record.original_bytes).where(
            Record.public_id == public_id)).scalar_one() for keep, public_id in stored.items()}
    db.dispose()
    assert blobs[False] is None
    with np.load(io_module.BytesIO(blobs[True]), allow_pickle=False) as archive:
        kept = sorted(archive[name].tobytes() for name in archive.files)
    assert kept == sorted(content for _, (_, content, _) in files)
