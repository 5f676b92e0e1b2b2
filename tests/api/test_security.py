"""Security properties: headers and CSP, cookies, password hashing, CSRF on every
state-changing route, rate limits, tokens."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db.models import User
from app.main import create_app
from app.security import CSRF_HEADER, SESSION_COOKIE
from tests.api.conftest import PASSWORD, login, make_settings
from tests.api.test_authorization_matrix import MATRIX


def test_every_response_carries_the_security_headers(app_client: TestClient) -> None:
    for path in ("/login", "/api/v1/health", "/static/css/qtlens.css", "/api/v1/records"):
        headers = app_client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_pages_have_no_inline_script_and_load_plotly_locally(client_as) -> None:
    admin = client_as("admin")
    for path in ("/login", "/worklist", "/research", "/admin", "/account"):
        html = admin.get(path).text
        assert "<script>" not in html and "javascript:" not in html
        for src in html.split('<script src="')[1:]:
            assert src.startswith("/static/"), src
    assert admin.get("/static/vendor/plotly.min.js").text.startswith("/**\n* plotly.js")


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(
        app_database: str) -> None:
    for secure in (False, True):
        with TestClient(create_app(make_settings(app_database, cookie_secure=secure)),
                        base_url="https://testserver") as client:
            token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
            response = client.post("/api/v1/auth/login", headers={CSRF_HEADER: token},
                                   json={"username": "clinician1", "password": PASSWORD})
            cookie = next(v for k, v in response.headers.multi_items()
                          if k == "set-cookie" and v.startswith(SESSION_COOKIE))
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie
            assert ("Secure" in cookie) is secure


def test_passwords_are_stored_as_argon2id(app_database: str) -> None:
    engine = sa.create_engine(app_database)
    with engine.connect() as connection:
        hashes = connection.execute(sa.select(User.password_hash)).scalars().all()
    engine.dispose()
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_every_state_changing_route_refuses_a_missing_or_foreign_csrf_token(client_as) -> None:
    admin = client_as("admin")
    other = client_as("admin")  # another session: its token must not work for ours
    foreign = other.headers[CSRF_HEADER]
    admin.headers.pop(CSRF_HEADER)
    changing = [(m, p) for m, p in MATRIX if m in {"POST", "PATCH", "DELETE"}]
    assert len(changing) >= 12
    for method, template in changing:
        path = template.format(public_id="ECG-X", prediction_id="1", concept="qt",
                               token_id="1", username="nobody")
        for headers in ({}, {CSRF_HEADER: foreign}, {CSRF_HEADER: "0" * 64}):
            status = admin.request(method, path, headers=headers, json={}).status_code
            assert status == 403, (method, path, headers, status)


def test_bearer_tokens_act_for_their_user_until_revoked(client_as, app_client) -> None:
    researcher = client_as("researcher")
    created = researcher.post("/api/v1/me/tokens", json={"name": "notebook", "expires_days": 30})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("qtl_")
    script = TestClient(app_client.app)
    bearer = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/v1/me", headers=bearer).json()["username"] == "researcher1"
    assert script.get("/api/v1/exports/interventions", headers=bearer).status_code == 200
    assert script.post("/api/v1/records", headers=bearer,
                       files=[("files", ("a.hea", b"x", "text/plain"))]).status_code == 403
    listed = researcher.get("/api/v1/me/tokens").json()
    assert all("token" not in t for t in listed)
    assert researcher.delete(f"/api/v1/me/tokens/{created.json()['id']}").status_code == 204
    assert script.get("/api/v1/me", headers=bearer).status_code == 401
    assert script.get("/api/v1/me", headers={"Authorization": "Bearer qtl_forged"}).status_code == 401


def test_login_is_rate_limited(app_database: str) -> None:
    with TestClient(create_app(make_settings(app_database, login_rate_per_minute=3))) as client:
        token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
        statuses = [client.post("/api/v1/auth/login", headers={CSRF_HEADER: token},
                                json={"username": "clinician1", "password": "wrong"}).status_code
                    for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]


def test_upload_is_rate_limited(app_database: str) -> None:
    with TestClient(create_app(make_settings(app_database, upload_rate_per_minute=2))) as client:
        login(client, "clinician1")
        statuses = [client.post("/api/v1/records", files=[("files", ("x.bin", b"junk" * 10,
                                                                     "application/octet-stream"))]
                                ).status_code for _ in range(4)]
    assert statuses == [415, 415, 429, 429]


def _add_user(admin: TestClient, username: str, password: str):
    return admin.post("/api/v1/admin/users",
                      json={"username": username, "password": password, "role": "clinician"})


def test_weak_passwords_are_refused_with_the_reason(client_as) -> None:
    admin = client_as("admin")
    for password, reason in (("aaaaaaaaaa", "one repeated character"),
                             (" " * 12, "only whitespace"),
                             ("xdr_weakpass_x", "contains the username"),
                             ("Qwertyuiop", "common passwords"),
                             ("1234567890", "common passwords")):
        refused = _add_user(admin, "dr_weakpass", password)
        assert refused.status_code == 422, (password, refused.text)
        assert reason in refused.json()["message"], (password, refused.json())
    assert _add_user(admin, "dr_weakpass", "violet lantern 73 ridge").status_code == 201


def test_reactivating_a_user_does_not_revive_their_sessions_or_tokens(client_as,
                                                                      app_client) -> None:
    admin = client_as("admin")
    assert _add_user(admin, "dr_paused", PASSWORD).status_code == 201
    user = TestClient(app_client.app)
    login(user, "dr_paused")
    token = user.post("/api/v1/me/tokens", json={"name": "script"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for active in (False, True):
        changed = admin.patch("/api/v1/admin/users/dr_paused", json={"is_active": active})
        assert changed.status_code == 200, changed.text
    assert user.get("/api/v1/me").status_code == 401
    assert TestClient(app_client.app).get("/api/v1/me", headers=bearer).status_code == 401
    assert login(TestClient(app_client.app), "dr_paused").get("/api/v1/me").status_code == 200
