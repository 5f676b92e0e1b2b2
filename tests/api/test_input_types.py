"""Edits are typed strictly and free text is cleaned the same way on SQLite and PostgreSQL.

A concept value is a JSON number: the string ``"500"`` and ``true`` are refused (422), not
coerced. A NUL or another control character in a comment or token name is refused with 422 on
both engines (PostgreSQL cannot store NUL in text; SQLite would store it silently).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.db.migrate import upgrade
from app.main import create_app
from tests.api.conftest import login, ludb_files, make_settings, seed_users


def test_values_are_strict_and_control_characters_refused(database_url: str,
                                                          data_dir: Path) -> None:
    upgrade(database_url)
    seed_users(database_url)
    with TestClient(create_app(make_settings(database_url))) as client:
        login(client, "clinician1")
        record = client.post("/api/v1/records", files=ludb_files(data_dir, "7")).json()
        prediction = client.post(f"/api/v1/records/{record['id']}/predictions").json()
        url = f"/api/v1/predictions/{prediction['id']}/interventions"
        for value in ("500", True, "4.5e2", None, [450]):
            refused = client.post(url, json={"concept": "qt", "value": value})
            assert refused.status_code == 422, (value, refused.text)
            assert refused.json()["field"] == "value"
        for comment in ("calipers\x00 lead II", "bell\x07", "esc\x1b[31m"):
            refused = client.post(url, json={"concept": "qt", "value": 450,
                                             "comment": comment})
            assert refused.status_code == 422, (comment, refused.text)
            assert "control character" in refused.json()["message"]
        named = client.post("/api/v1/me/tokens", json={"name": "nb\x00"})
        assert named.status_code == 422 and "control character" in named.json()["message"]
        kept = client.post(url, json={"concept": "qt", "value": 450,
                                      "comment": "tab\there\r\nand a new line"})
        assert kept.status_code == 201, kept.text
        assert kept.json()["comment"] == "tab\there\r\nand a new line"
        assert client.post(url, json={"concept": "qt", "value": 455.5}).status_code == 201
        history = client.get(url).json()
        assert [h["new_value"] for h in history] == [450, 455.5]
