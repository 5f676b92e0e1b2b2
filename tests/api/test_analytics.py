"""The researcher analytics endpoint, checked number by number against the intervention rows.

Two clinicians edit two real LUDB records through the API; a short history from an older model
(dated March 2024, with risks placed on the band thresholds) is added through the ORM, the way a
database that outlived a model upgrade holds it. Every aggregate is recomputed here in plain
Python — once from the rows read with SQLAlchemy, once from the CSV export — with the bands in
force (the loaded bundle's for its own predictions, the task defaults for the older model's), and
must agree with the endpoint for each filter.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db.models import Intervention, Prediction, Record, User
from app.db.session import Database
from app.security import Role
from app.services import analytics, audit
from app.services.bands import BandsInForce
from app.services.exports import ExportFilter
from app.services.users import create_user
from models.concepts import concept_names, get_concept
from models.tasks import TASKS, Bands, RiskBand, get_task
from tests.api.conftest import PASSWORD, login, ludb_files

LEGACY_NAME = "qtlens-legacy"
LEGACY_CHECKSUM = "ab" * 32
#: No model loaded: every prediction banded with the task defaults.
DEFAULTS = BandsInForce.of(None)
#: The older model as if it were loaded, with a calibrated TdP band differing from the default.
CALIBRATED = BandsInForce(LEGACY_CHECKSUM, {
    "lqts_risk": get_task("lqts_risk").bands, "tdp_risk": Bands(0.15, 0.6, "calibrated (test)")})
Row = dict[str, Any]

#: (when, action, concept, model value, previous, new value, lqts before/after, tdp before/after)
#: The risks sit on and beside the band thresholds (0.2 intermediate, 0.5 high).
LEGACY_EVENTS: tuple[tuple[datetime, str, str, float, float, float | None,
                           tuple[float, float], tuple[float, float]], ...] = (
    (datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "override", "qtc_fridericia", 452.0, 452.0, 505.0,
     (0.15, 0.5), (0.1, 0.19999)),
    (datetime(2024, 3, 2, 23, 59, 59, tzinfo=UTC), "override", "tpeak_tend", 88.0, 88.0, 120.0,
     (0.5, 0.49999), (0.19999, 0.2)),
    (datetime(2024, 3, 4, 0, 0, 1, tzinfo=UTC), "revert", "tpeak_tend", 88.0, 120.0, 88.0,
     (0.49999, 0.5), (0.2, 0.19999)),
    (datetime(2024, 3, 4, 8, 30, tzinfo=UTC), "override", "t_notched", 0.0, 0.0, 1.0,
     (0.3, 0.35), (0.25, 0.3)),
)


def add_legacy_history(session: Session, record_id: int, user_id: int) -> None:
    """A prediction of an older model on ``record_id`` and :data:`LEGACY_EVENTS` by ``user_id``,
    chained like every intervention."""
    prediction = Prediction(
        record_id=record_id, created_by=user_id, created_at=LEGACY_EVENTS[0][0] - timedelta(hours=1),
        model_name=LEGACY_NAME, model_checksum=LEGACY_CHECKSUM, device="cpu", latency_ms=12.0,
        model_output={}, measurements={}, risks={"lqts_risk": 0.15, "tdp_risk": 0.1},
    )
    session.add(prediction)
    session.flush()
    for when, action, concept, model_value, previous, new, lqts, tdp in LEGACY_EVENTS:
        audit.append(session, Intervention(
            prediction_id=prediction.id, user_id=user_id, created_at=when, action=action,
            concept=concept, unit=get_concept(concept).unit, model_value=model_value,
            previous_value=previous, new_value=new,
            risks_before={"lqts_risk": lqts[0], "tdp_risk": tdp[0]},
            risks_after={"lqts_risk": lqts[1], "tdp_risk": tdp[1]}, source="typed",
        ))


# ---- the expected numbers, computed independently from plain rows --------------------------

def _close(actual: Any, expected: Any, where: str = "") -> None:
    """Recursive equality with floats compared to 1e-9 relative."""
    if isinstance(expected, float) and actual is not None:
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), (where, actual, expected)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), (where, actual, expected)
        for key in expected:
            _close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual, expected)
        for index, (a, e) in enumerate(zip(actual, expected)):
            _close(a, e, f"{where}[{index}]")
    else:
        assert actual == expected, (where, actual, expected)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return fmean(values) if values else None


def _risk(row: Row, when: str, task: str) -> float:
    return row[f"{when}_{task}"]


def _band(in_force: BandsInForce, row: Row, when: str, task: str) -> RiskBand:
    """The band of the row's risk as the record page showed it: the loaded bundle's bands for
    its own prediction, the task's defaults for another model's."""
    bands = (in_force.bands[task] if row["model_checksum"] == in_force.checksum
             else get_task(task).bands)
    return bands.band(_risk(row, when, task))


def expected_summary(rows: list[Row], in_force: BandsInForce) -> dict[str, Any]:
    """What the endpoint must answer for exactly these intervention rows (export columns)."""
    overrides = [r for r in rows if r["action"] == "override"]
    actions = Counter((r["concept"], r["action"]) for r in rows)

    by_concept = []
    order = {name: index for index, name in enumerate(concept_names())}
    for concept in sorted({r["concept"] for r in rows}, key=order.__getitem__):
        mine = [r for r in overrides if r["concept"] == concept]
        by_concept.append({
            "concept": concept, "label": get_concept(concept).label,
            "unit": get_concept(concept).unit,
            "overrides": actions[concept, "override"], "reverts": actions[concept, "revert"],
            "mean_abs_difference": _mean(abs(r["new_value"] - r["model_value"]) for r in mine),
            "mean_risk_change": {t.name: _mean(_risk(r, "after", t.name) - _risk(r, "before", t.name)
                                               for r in mine) for t in TASKS},
            "band_flips": {t.name: sum(_band(in_force, r, "before", t.name)
                                       != _band(in_force, r, "after", t.name) for r in mine)
                           for t in TASKS},
        })

    by_user = []
    for user in {r["user"] for r in rows}:
        mine = [r for r in overrides if r["user"] == user]
        by_user.append({
            "user": user, "overrides": len(mine),
            "reverts": sum(r["user"] == user and r["action"] == "revert" for r in rows),
            "mean_abs_risk_change": {t.name: _mean(abs(_risk(r, "after", t.name)
                                                       - _risk(r, "before", t.name)) for r in mine)
                                     for t in TASKS},
        })
    by_user.sort(key=lambda u: (-u["overrides"], -u["reverts"], u["user"]))

    by_model = []
    for name, checksum in {(r["model_name"], r["model_checksum"]) for r in rows}:
        mine = [r for r in rows if (r["model_name"], r["model_checksum"]) == (name, checksum)]
        concepts = []
        for concept in sorted({r["concept"] for r in mine}, key=order.__getitem__):
            edits = [r for r in mine if r["concept"] == concept and r["action"] == "override"]
            concepts.append({"concept": concept, "unit": get_concept(concept).unit,
                             "overrides": len(edits),
                             "mean_abs_difference": _mean(abs(r["new_value"] - r["model_value"])
                                                          for r in edits)})
        by_model.append({"model_name": name, "model_checksum": checksum,
                         "overrides": sum(r["action"] == "override" for r in mine),
                         "reverts": sum(r["action"] == "revert" for r in mine),
                         "concepts": concepts})
    by_model.sort(key=lambda m: (-m["overrides"], m["model_name"], m["model_checksum"]))

    per_day = Counter((r["created_at"].astimezone(UTC).date(), r["action"]) for r in rows)
    days = sorted({day for day, _ in per_day})
    over_time = [] if not days else [
        {"day": (days[0] + timedelta(days=n)).isoformat(),
         "overrides": per_day[days[0] + timedelta(days=n), "override"],
         "reverts": per_day[days[0] + timedelta(days=n), "revert"]}
        for n in range((days[-1] - days[0]).days + 1)
    ]
    moments = [r["created_at"] for r in rows]
    totals = {"events": len(rows), "overrides": len(overrides), "reverts": len(rows) - len(overrides),
              "users": len({r["user"] for r in rows}),
              "predictions": len({r["prediction_id"] for r in rows}),
              "records": len({r["record_id"] for r in rows}),
              "first_at": min(moments) if moments else None,
              "last_at": max(moments) if moments else None}
    return {"totals": totals, "by_concept": by_concept, "by_user": by_user,
            "by_model": by_model, "over_time": over_time}


def assert_summary_matches(body: dict[str, Any], rows: list[Row],
                           in_force: BandsInForce) -> None:
    """The endpoint's aggregates equal the ones recomputed from ``rows`` under ``in_force``."""
    expected = expected_summary(rows, in_force)
    totals = dict(body["totals"])
    for key in ("first_at", "last_at"):
        totals[key] = datetime.fromisoformat(totals[key]) if totals[key] else None
    _close(totals, expected["totals"], "totals")
    for key in ("by_concept", "by_user", "by_model", "over_time"):
        _close(body[key], expected[key], key)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def database_rows(database_url: str) -> list[Row]:
    """Every intervention as a dict with the export's column names, read with SQLAlchemy."""
    db = Database(database_url)
    with db.read() as session:
        result = session.execute(
            sa.select(Intervention, Prediction.model_name, Prediction.model_checksum,
                      User.pseudonym, Record.public_id)
            .join(Prediction, Prediction.id == Intervention.prediction_id)
            .join(Record, Record.id == Prediction.record_id)
            .join(User, User.id == Intervention.user_id)).all()
    db.dispose()
    rows = []
    for event, model_name, checksum, pseudonym, record_id in result:
        row = {"intervention_id": event.id, "created_at": _utc(event.created_at),
               "record_id": record_id, "prediction_id": event.prediction_id,
               "model_name": model_name, "model_checksum": checksum, "user": pseudonym,
               "action": event.action, "concept": event.concept, "unit": event.unit,
               "model_value": event.model_value, "previous_value": event.previous_value,
               "new_value": event.new_value}
        for task in TASKS:
            row[f"before_{task.name}"] = event.risks_before[task.name]
            row[f"after_{task.name}"] = event.risks_after[task.name]
        rows.append(row)
    return sorted(rows, key=lambda r: r["intervention_id"])


def csv_rows(text: str) -> list[Row]:
    """The intervention CSV export parsed back into typed rows."""
    numbers = {"model_value", "previous_value", "new_value",
               *(f"{when}_{t.name}" for t in TASKS for when in ("before", "after"))}
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: Row = {k: (float(v) if v != "" else None) if k in numbers else v
                    for k, v in raw.items()}
        row["intervention_id"] = int(raw["intervention_id"])
        row["prediction_id"] = int(raw["prediction_id"])
        row["created_at"] = _utc(datetime.fromisoformat(raw["created_at"]))
        rows.append(row)
    return rows


def in_scope(row: Row, params: dict[str, str]) -> bool:
    """Whether ``row`` passes the endpoint's filters, evaluated in Python."""
    day = row["created_at"].astimezone(UTC).date()
    return ((not params.get("from") or day >= date.fromisoformat(params["from"]))
            and (not params.get("to") or day <= date.fromisoformat(params["to"]))
            and (not params.get("model")
                 or params["model"] in (row["model_name"], row["model_checksum"]))
            and (not params.get("user") or row["user"] == params["user"])
            and (not params.get("concept") or row["concept"] == params["concept"]))


# ---- the scenario ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """What the module's clinicians did."""

    clinician1: str  # pseudonyms
    clinician2: str
    model_name: str
    model_checksum: str
    today: date


def _predict(client: TestClient, data_dir: Path, record: str) -> tuple[str, int]:
    upload = client.post("/api/v1/records", files=ludb_files(data_dir, record))
    assert upload.status_code == 201, upload.text
    public_id = upload.json()["id"]
    prediction = client.post(f"/api/v1/records/{public_id}/predictions")
    assert prediction.status_code == 201, prediction.text
    return public_id, prediction.json()["id"]


def _edit(client: TestClient, prediction_id: int, concept: str, value: float | None) -> None:
    url = f"/api/v1/predictions/{prediction_id}/interventions"
    response = (client.post(url, json={"concept": concept, "value": value}) if value is not None
                else client.delete(f"{url}/{concept}"))
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def scenario(app_client: TestClient, app_database: str, data_dir: Path) -> Scenario:
    """clinician1 and clinician2 (made by the admin) edit one LUDB record each; the older
    model's history is added on clinician1's record under clinician2."""
    admin = login(TestClient(app_client.app), "admin1")
    made = admin.post("/api/v1/admin/users", json={"username": "clinician2",
                                                   "password": PASSWORD, "role": "clinician"})
    assert made.status_code == 201, made.text
    first, second = (login(TestClient(app_client.app), name)
                     for name in ("clinician1", "clinician2"))

    record1, prediction1 = _predict(first, data_dir, "1")
    # The second Tpeak-Tend edit replaces the first: its previous value is not the model's.
    for concept, value in (("qtc_fridericia", 540), ("tpeak_tend", 130),
                           ("t_amplitude_ii", 0.1), ("tpeak_tend", 150), ("tpeak_tend", None)):
        _edit(first, prediction1, concept, value)
    _, prediction2 = _predict(second, data_dir, "2")
    for concept, value in (("qtc_fridericia", 470), ("t_notched", 1), ("qt", 480),
                           ("qtc_fridericia", None)):
        _edit(second, prediction2, concept, value)

    users = {u["username"]: u["pseudonym"] for u in admin.get("/api/v1/admin/users").json()}
    model = admin.get("/api/v1/admin/model").json()
    db = Database(app_database)
    with db.write() as session:
        record_row = session.execute(sa.select(Record.id).where(Record.public_id == record1))
        user_row = session.execute(sa.select(User.id).where(User.username == "clinician2"))
        add_legacy_history(session, record_row.scalar_one(), user_row.scalar_one())
    db.dispose()
    for client in (admin, first, second):
        client.close()
    return Scenario(clinician1=users["clinician1"], clinician2=users["clinician2"],
                    model_name=model["name"], model_checksum=model["checksum"],
                    today=datetime.now(UTC).date())


@pytest.fixture
def researcher(client_as) -> TestClient:
    return client_as("researcher")


@pytest.fixture
def in_force(app_client: TestClient) -> BandsInForce:
    """The bands the app's loaded bundle shows on the record page."""
    return BandsInForce.of(app_client.app.state.context.model)


def test_every_aggregate_matches_the_rows_and_the_csv_export(
        scenario: Scenario, researcher: TestClient, app_database: str,
        in_force: BandsInForce) -> None:
    rows = database_rows(app_database)
    assert len(rows) == 9 + len(LEGACY_EVENTS)
    exported = researcher.get("/api/v1/exports/interventions", params={"format": "csv"})
    assert exported.status_code == 200
    from_csv = csv_rows(exported.text)
    assert [r["intervention_id"] for r in from_csv] == [r["intervention_id"] for r in rows]

    response = researcher.get("/api/v1/analytics/interventions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_summary_matches(body, rows, in_force)
    assert_summary_matches(body, from_csv, in_force)
    # The export carries the bands the flips are counted with: the loaded bundle's calibrated
    # TdP bands for its own predictions, the defaults for the older model's.
    for row in from_csv:
        for task in TASKS:
            for when in ("before", "after"):
                assert row[f"{when}_band_{task.name}"] == _band(in_force, row, when, task.name).value
    flips = {c["concept"]: c["band_flips"] for c in body["by_concept"]}
    for concept, counted in flips.items():
        overrides = [r for r in from_csv if r["concept"] == concept and r["action"] == "override"]
        assert counted == {t.name: sum(r[f"before_band_{t.name}"] != r[f"after_band_{t.name}"]
                                       for r in overrides) for t in TASKS}

    # The numbers themselves, where the scenario fixes them.
    concepts = {c["concept"]: c for c in body["by_concept"]}
    assert list(concepts) == ["qt", "qtc_fridericia", "tpeak_tend", "t_amplitude_ii",
                              "t_notched"]  # registry order
    assert (concepts["tpeak_tend"]["overrides"], concepts["tpeak_tend"]["reverts"]) == (3, 2)
    # A typed QTc is stored as the QT it set (and its revert reverts QT); the older model's
    # history keeps its QTc event as it was stored.
    assert (concepts["qt"]["overrides"], concepts["qt"]["reverts"]) == (3, 1)
    assert (concepts["qtc_fridericia"]["overrides"], concepts["qtc_fridericia"]["reverts"]) == (1, 0)
    assert concepts["t_amplitude_ii"]["unit"] == "mV" and concepts["qt"]["unit"] == "ms"
    assert concepts["t_notched"]["unit"] == "" and concepts["t_notched"]["overrides"] == 2
    counts = ("events", "overrides", "reverts", "users", "predictions", "records")
    assert [body["totals"][key] for key in counts] == [13, 10, 3, 2, 3, 2]
    assert {u["user"] for u in body["by_user"]} == {scenario.clinician1, scenario.clinician2}
    assert "clinician1" not in response.text and "clinician2" not in response.text
    assert [m["model_checksum"] for m in body["by_model"]] == [scenario.model_checksum,
                                                               LEGACY_CHECKSUM]
    assert [(d["day"], d["overrides"], d["reverts"]) for d in body["over_time"][:4]] == [
        ("2024-03-01", 1, 0), ("2024-03-02", 1, 0), ("2024-03-03", 0, 0), ("2024-03-04", 1, 1)]
    assert body["over_time"][-1]["day"] == scenario.today.isoformat()
    assert body["facets"]["users"] == sorted([scenario.clinician1, scenario.clinician2])
    assert {m["checksum"] for m in body["facets"]["models"]} == {scenario.model_checksum,
                                                                 LEGACY_CHECKSUM}
    assert [t["name"] for t in body["tasks"]] == [t.name for t in TASKS]
    assert body["filters"] == {"from": None, "to": None, "model": None, "user": None,
                               "concept": None}


def test_band_flips_of_another_model_follow_the_task_defaults(
        scenario: Scenario, researcher: TestClient) -> None:
    legacy = researcher.get("/api/v1/analytics/interventions",
                            params={"model": LEGACY_NAME}).json()
    flips = {c["concept"]: c["band_flips"] for c in legacy["by_concept"]}
    # qtc: lqts low→high, tdp low→low (0.19999); tpeak_tend: lqts high→intermediate (0.49999),
    # tdp low→intermediate (exactly 0.2); the revert does not count; t_notched stays put.
    assert flips == {"tpeak_tend": {"lqts_risk": 1, "tdp_risk": 1},
                     "qtc_fridericia": {"lqts_risk": 1, "tdp_risk": 0},
                     "t_notched": {"lqts_risk": 0, "tdp_risk": 0}}
    changes = {c["concept"]: c["mean_risk_change"] for c in legacy["by_concept"]}
    assert changes["qtc_fridericia"]["lqts_risk"] == pytest.approx(0.35)
    assert changes["tpeak_tend"]["tdp_risk"] == pytest.approx(0.00001)
    differences = {c["concept"]: c["mean_abs_difference"] for c in legacy["by_concept"]}
    assert differences == {"tpeak_tend": 32.0, "qtc_fridericia": 53.0, "t_notched": 1.0}


def _filters(scenario: Scenario) -> list[dict[str, str]]:
    today = scenario.today.isoformat()
    return [
        {"from": "2024-03-02", "to": "2024-03-02"},  # the 23:59:59 event only: 'to' is inclusive
        {"from": "2024-03-03", "to": "2024-03-04"},
        {"to": "2024-03-01"},
        {"from": today},
        {"from": "", "to": "", "model": "", "user": "", "concept": ""},  # blank = no bound
        {"model": LEGACY_NAME},
        {"model": LEGACY_CHECKSUM},
        {"model": scenario.model_checksum},
        {"model": scenario.model_name, "user": scenario.clinician1},
        {"user": scenario.clinician2},
        {"user": scenario.clinician2, "concept": "tpeak_tend"},
        {"concept": "qtc_fridericia", "from": "2024-01-01", "to": today},
        {"concept": "rr"},  # nobody touched RR
        {"user": "U-NOBODY00"},
    ]


def test_filters_select_the_same_rows_as_python_and_the_export(
        scenario: Scenario, researcher: TestClient, app_database: str,
        in_force: BandsInForce) -> None:
    rows = database_rows(app_database)
    for params in _filters(scenario):
        body = researcher.get("/api/v1/analytics/interventions", params=params)
        assert body.status_code == 200, (params, body.text)
        selected = [r for r in rows if in_scope(r, params)]
        assert_summary_matches(body.json(), selected, in_force)
        # Blank values stay out of the export's query: its `model=` answers 500 (reported).
        exported = researcher.get("/api/v1/exports/interventions", params={
            "format": "csv", **{k: v for k, v in params.items() if k in ("from", "to", "model") and v}})
        assert_summary_matches(body.json(), [r for r in csv_rows(exported.text)
                                             if in_scope(r, params)], in_force)
        echo = body.json()["filters"]
        assert echo == {key: params.get(key) or None
                        for key in ("from", "to", "model", "user", "concept")}
    single_day = researcher.get("/api/v1/analytics/interventions",
                                params={"from": "2024-03-02", "to": "2024-03-02"}).json()
    assert single_day["totals"]["events"] == 1
    assert single_day["over_time"] == [{"day": "2024-03-02", "overrides": 1, "reverts": 0}]
    nobody = researcher.get("/api/v1/analytics/interventions", params={"concept": "rr"}).json()
    assert nobody["by_concept"] == [] and nobody["totals"]["events"] == 0
    assert nobody["over_time"] == [] and nobody["totals"]["first_at"] is None
    assert len(nobody["facets"]["users"]) == 2  # facets ignore the filters


def test_roles_and_bad_filters(scenario: Scenario, client_as) -> None:
    url = "/api/v1/analytics/interventions"
    assert client_as(None).get(url).status_code == 401
    refused = client_as("clinician").get(url)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert client_as("admin").get(url).status_code == 200
    researcher = client_as("researcher")
    backwards = researcher.get(url, params={"from": "2024-03-05", "to": "2024-03-01"})
    assert backwards.status_code == 422 and "after" in backwards.json()["message"]
    unknown = researcher.get(url, params={"concept": "qt_magic"})
    assert unknown.status_code == 422 and "qt_magic" in unknown.json()["message"]
    not_a_day = researcher.get(url, params={"from": "last tuesday"})
    assert not_a_day.status_code == 422 and not_a_day.json()["field"] == "query.from"


def test_the_openapi_schema_documents_the_response(app_client: TestClient) -> None:
    schema = app_client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/analytics/interventions"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "model", "user",
                                                            "concept"}
    body = schema["components"]["schemas"]["ConceptStats"]["properties"]
    assert "in `unit`" in body["mean_abs_difference"]["description"]


def test_the_database_computes_the_same_on_each_engine(migrated_url: str) -> None:
    """The SQL (JSON extraction, UTC days, band CASE) on SQLite and PostgreSQL."""
    db = Database(migrated_url)
    with db.write() as session:
        user = create_user(session, "clinician9", PASSWORD, Role.CLINICIAN)
        record = Record(public_id="ECG-ENGINE01", uploaded_by=user.id,
                        uploaded_at=LEGACY_EVENTS[0][0], source_format="wfdb", fs_hz=500.0,
                        n_samples=5000, lead_names=["I"], duration_s=10.0, content_sha256="0" * 64,
                        removed_fields=[])
        session.add(record)
        session.flush()
        add_legacy_history(session, record.id, user.id)
    with db.read() as session:
        if session.get_bind().dialect.name == "postgresql":
            # A session far from UTC: days must still be UTC days.
            session.execute(sa.text("SET TIME ZONE 'Pacific/Kiritimati'"))
        everything = analytics.summarise(session, analytics.InterventionScope(ExportFilter()),
                                         DEFAULTS)
        march_2 = analytics.summarise(session, analytics.InterventionScope(ExportFilter(
            created_from=datetime(2024, 3, 2, tzinfo=UTC),
            created_to=datetime(2024, 3, 3, tzinfo=UTC))), DEFAULTS)
        calibrated = analytics.summarise(session, analytics.InterventionScope(ExportFilter()),
                                         CALIBRATED)
        foreign = analytics.summarise(session, analytics.InterventionScope(ExportFilter()),
                                      BandsInForce("cd" * 32, CALIBRATED.bands))
        for bands in (*(t.bands for t in TASKS), CALIBRATED.bands["tdp_risk"]):
            for probability in (0.0, 0.14999, bands.intermediate_from, 0.19999, 0.2, 0.49999,
                                0.5, 0.59999, bands.high_from, 1.0):
                rank = session.execute(sa.select(analytics.band_rank(
                    sa.literal(probability, sa.Float), sa.literal(bands.intermediate_from),
                    sa.literal(bands.high_from)))).scalar_one()
                assert rank == list(RiskBand).index(bands.band(probability))
    db.dispose()
    # A calibrated TdP band of the model that made the prediction changes the flips: 0.1 → 0.19999
    # crosses its 0.15, 0.19999 → 0.2 no longer crosses the default 0.2; another model's
    # predictions keep the defaults.
    flips = {c.concept: c.band_flips["tdp_risk"] for c in everything.by_concept}
    assert flips == {"qtc_fridericia": 0, "tpeak_tend": 1, "t_notched": 0}
    assert {c.concept: c.band_flips["tdp_risk"] for c in calibrated.by_concept} == {
        "qtc_fridericia": 1, "tpeak_tend": 0, "t_notched": 0}
    assert {c.concept: c.band_flips["tdp_risk"] for c in foreign.by_concept} == flips
    assert {c.concept: c.band_flips["lqts_risk"] for c in calibrated.by_concept} == {
        c.concept: c.band_flips["lqts_risk"] for c in everything.by_concept}
    tdp = next(t for t in calibrated.tasks if t.name == "tdp_risk")
    assert (tdp.intermediate_from, tdp.high_from, tdp.default_high_from) == (0.15, 0.6, 0.5)
    rows = [{"created_at": when, "action": action, "concept": concept, "model_value": model,
             "new_value": new, "user": "U", "model_name": LEGACY_NAME,
             "model_checksum": LEGACY_CHECKSUM, "prediction_id": 1, "record_id": "ECG-ENGINE01",
             "before_lqts_risk": lqts[0], "after_lqts_risk": lqts[1],
             "before_tdp_risk": tdp[0], "after_tdp_risk": tdp[1]}
            for when, action, concept, model, _, new, lqts, tdp in LEGACY_EVENTS]
    body = everything.model_dump(mode="json")
    for item in body["by_user"]:
        item["user"] = "U"
    assert_summary_matches(body, rows, DEFAULTS)
    assert_summary_matches(calibrated.model_dump(mode="json") | {"by_user": body["by_user"]},
                           rows, CALIBRATED)
    assert [d.model_dump(mode="json") for d in march_2.over_time] == [
        {"day": "2024-03-02", "overrides": 1, "reverts": 0}]
    assert everything.totals.first_at == LEGACY_EVENTS[0][0]
