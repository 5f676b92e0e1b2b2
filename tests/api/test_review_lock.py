"""Review locks a record for everyone until an explicit, audited reopen (README, "Review").

Shared worklist: a record reviewed by one clinician refuses every change (override, revert,
caliper, new prediction) from every user with 423 and a sentence saying who reviewed it; any
clinician may reopen it, and the audit log keeps who reopened it, when, and whose review it undid.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db.models import AuditEvent
from app.db.session import Database
from app.security import Role
from app.services.users import create_user
from tests.api.conftest import PASSWORD, login, ludb_files


@pytest.fixture(scope="module")
def second_clinician(app_database: str) -> str:
    """A second clinician, ``clinician2``, sharing the worklist with ``clinician1``."""
    db = Database(app_database)
    with db.write() as session:
        create_user(session, "clinician2", PASSWORD, Role.CLINICIAN)
    db.dispose()
    return "clinician2"


def _events(database_url: str, event_type: str) -> list[AuditEvent]:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(AuditEvent).where(
            AuditEvent.event_type == event_type).order_by(AuditEvent.id)).all()
    engine.dispose()
    return rows


def test_review_locks_every_edit_for_everyone_until_a_logged_reopen(
        client_as, app_client: TestClient, app_database: str, data_dir: Path,
        second_clinician: str) -> None:
    first = client_as("clinician")
    second = login(TestClient(app_client.app), second_clinician)
    record = first.post("/api/v1/records", files=ludb_files(data_dir, "2")).json()["id"]
    prediction = first.post(f"/api/v1/records/{record}/predictions").json()["id"]
    edits = f"/api/v1/predictions/{prediction}/interventions"
    assert first.post(edits, json={"concept": "qt", "value": 450}).status_code == 201

    reviewed = first.post(f"/api/v1/records/{record}/review")
    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert body["status"] == "reviewed" and body["reviewed_by"] == "clinician1"
    assert body["reviewed_at"].endswith(("Z", "+00:00"))
    listed = {r["id"]: r for r in second.get("/api/v1/records").json()}
    assert listed[record]["status"] == "reviewed" and listed[record]["reviewed_by"] == "clinician1"

    # Locked for the reviewer and for the colleague alike: typed, caliper, revert, re-run.
    for client in (first, second):
        attempts = [
            client.post(edits, json={"concept": "tpeak_tend", "value": 120}),
            client.post(edits, json={"concept": "qt", "value": 470, "source": "caliper"}),
            client.delete(f"{edits}/qt"),
            client.post(f"/api/v1/records/{record}/predictions"),
            client.post(f"/api/v1/records/{record}/review"),
        ]
        for response in attempts:
            assert response.status_code == 423, response.text
            refusal = response.json()
            assert refusal["error"] == "record_locked"
            assert "reviewed by clinician1" in refusal["message"] and "reopen" in refusal["message"]
    history = first.get(edits).json()
    assert [(e["action"], e["concept"]) for e in history] == [("override", "qt")]

    # A researcher may neither reopen nor review; anonymous callers are not let in.
    researcher = client_as("researcher")
    assert researcher.post(f"/api/v1/records/{record}/reopen").status_code == 403
    assert researcher.post(f"/api/v1/records/{record}/review").status_code == 403
    anonymous = client_as(None)
    anonymous.headers["X-CSRF-Token"] = anonymous.get("/api/v1/auth/csrf").json()["csrf_token"]
    assert anonymous.post(f"/api/v1/records/{record}/reopen").status_code == 401

    # Another clinician reopens it: logged with who, when and whose review it undid.
    before = len(_events(app_database, "record_reopened"))
    reopened = second.post(f"/api/v1/records/{record}/reopen")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "predicted" and reopened.json()["reviewed_by"] is None
    events = _events(app_database, "record_reopened")[before:]
    assert len(events) == 1
    assert events[0].detail["record"] == record and events[0].created_at is not None
    reviews = _events(app_database, "record_reviewed")
    assert events[0].user_id != reviews[-1].user_id  # clinician2 undid clinician1's review
    assert events[0].detail["reviewed_by"] == reviews[-1].user_id

    # Editable again; a second reopen has nothing to undo.
    assert first.post(edits, json={"concept": "tpeak_tend", "value": 120}).status_code == 201
    again = second.post(f"/api/v1/records/{record}/reopen")
    assert again.status_code == 409 and "not reviewed" in again.json()["message"]
    second.close()
