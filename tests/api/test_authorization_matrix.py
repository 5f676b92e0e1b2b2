"""Every route, called as every role: allowed or denied exactly as this table says.

A route missing from the table fails the test, so a new route cannot ship unclassified. Fields
too: no route a researcher may read shows a clinician's username or a free-text comment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.api.conftest import ludb_files

ANON, CLIN, RES, ADMIN = "anonymous", "clinician", "researcher", "admin"
EVERYONE = {ANON, CLIN, RES, ADMIN}
LOGGED_IN = {CLIN, RES, ADMIN}
CLINICAL = {CLIN, ADMIN}
RESEARCH = {RES, ADMIN}

#: (method, path) → roles allowed.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/health"): EVERYONE,
    ("GET", "/api/v1/ready"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("GET", "/ready"): EVERYONE,
    ("GET", "/api/v1/auth/csrf"): EVERYONE,
    ("POST", "/api/v1/auth/login"): EVERYONE,
    ("POST", "/api/v1/auth/logout"): EVERYONE,
    ("GET", "/api/v1/me"): LOGGED_IN,
    ("GET", "/api/v1/me/tokens"): LOGGED_IN,
    ("POST", "/api/v1/me/tokens"): LOGGED_IN,
    ("DELETE", "/api/v1/me/tokens/{token_id}"): LOGGED_IN,
    ("GET", "/api/v1/concepts"): EVERYONE,
    ("POST", "/api/v1/records"): CLINICAL,
    ("GET", "/api/v1/records"): LOGGED_IN,
    ("GET", "/api/v1/records/{public_id}"): LOGGED_IN,
    ("GET", "/api/v1/records/{public_id}/signal"): LOGGED_IN,
    ("POST", "/api/v1/records/{public_id}/review"): CLINICAL,
    ("POST", "/api/v1/records/{public_id}/reopen"): CLINICAL,
    ("PUT", "/api/v1/records/{public_id}/series"): CLINICAL,
    ("DELETE", "/api/v1/records/{public_id}"): {ADMIN},
    ("POST", "/api/v1/records/{public_id}/predictions"): CLINICAL,
    ("GET", "/api/v1/predictions/{prediction_id}"): LOGGED_IN,
    ("POST", "/api/v1/predictions/{prediction_id}/interventions"): CLINICAL,
    ("GET", "/api/v1/predictions/{prediction_id}/interventions"): LOGGED_IN,
    ("POST", "/api/v1/predictions/{prediction_id}/fiducials"): CLINICAL,
    ("DELETE", "/api/v1/predictions/{prediction_id}/interventions/{concept}"): CLINICAL,
    ("GET", "/api/v1/predictions/{prediction_id}/suggestion"): LOGGED_IN,
    ("GET", "/api/v1/predictions/{prediction_id}/explanations"): LOGGED_IN,
    ("GET", "/api/v1/exports/interventions"): RESEARCH,
    ("GET", "/api/v1/exports/predictions"): RESEARCH,
    ("GET", "/api/v1/analytics/interventions"): RESEARCH,
    ("GET", "/api/v1/admin/users"): {ADMIN},
    ("POST", "/api/v1/admin/users"): {ADMIN},
    ("PATCH", "/api/v1/admin/users/{username}"): {ADMIN},
    ("GET", "/api/v1/admin/model"): {ADMIN},
    ("GET", "/"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/worklist"): CLINICAL,
    ("GET", "/records/{public_id}"): LOGGED_IN,
    ("GET", "/research"): RESEARCH,
    ("GET", "/admin"): {ADMIN},
    ("GET", "/account"): LOGGED_IN,
    ("GET", "/about"): LOGGED_IN,
    ("GET", "/static/vendor/plotly.min.js"): EVERYONE,
}
UNCHECKED = {"/api/docs", "/api/docs/oauth2-redirect", "/api/v1/openapi.json"}


def _flat_routes(routes) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route. Recent FastAPI keeps included routers as lazy
    branches exposing ``effective_route_contexts()``; older ones flatten them into APIRoutes."""
    flat = []
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            flat += [(ctx.path, set(ctx.original_route.methods or ()))
                     for ctx in route.effective_route_contexts()
                     if isinstance(ctx.original_route, APIRoute)]
        elif isinstance(route, APIRoute):
            flat.append((route.path, set(route.methods)))
    return flat


def _routes(app) -> set[tuple[str, str]]:
    return {(method, path) for path, methods in _flat_routes(app.routes)
            if path not in UNCHECKED for method in methods - {"HEAD"}}


def test_every_route_is_classified(app_client: TestClient) -> None:
    routes = _routes(app_client.app)
    assert routes - MATRIX.keys() == set(), "classify these routes in MATRIX"
    assert MATRIX.keys() - routes == set(), "MATRIX names routes that do not exist"


@pytest.fixture(scope="module")
def targets(app_client: TestClient, data_dir: Path) -> dict[str, str]:
    """Real ids to put in the paths: a record, a prediction, an overridden concept."""
    from tests.api.conftest import login

    client = login(TestClient(app_client.app), "clinician1")
    record = client.post("/api/v1/records", files=ludb_files(data_dir, "5")).json()["id"]
    prediction = client.post(f"/api/v1/records/{record}/predictions").json()["id"]
    client.post(f"/api/v1/predictions/{prediction}/interventions",
                json={"concept": "qt", "value": 450})
    client.close()
    return {"public_id": record, "prediction_id": str(prediction), "concept": "qt",
            "token_id": "999999", "username": "no-such-user"}


#: A comment a clinician might type; researchers must never read it (issue 18, finding 8).
IDENTIFYING_COMMENT = "patient John Smith MRN 12345"


@pytest.fixture(scope="module")
def disclosed(app_client: TestClient, data_dir: Path) -> dict[str, str]:
    """A reviewed record whose prediction carries an override with an identifying comment."""
    from tests.api.conftest import login

    client = login(TestClient(app_client.app), "clinician1")
    record = client.post("/api/v1/records", files=ludb_files(data_dir, "6")).json()["id"]
    prediction = client.post(f"/api/v1/records/{record}/predictions").json()["id"]
    edit = client.post(f"/api/v1/predictions/{prediction}/interventions",
                       json={"concept": "qt", "value": 455, "comment": IDENTIFYING_COMMENT})
    assert edit.status_code == 201, edit.text
    assert client.post(f"/api/v1/records/{record}/review").status_code == 200
    client.close()
    return {"public_id": record, "prediction_id": str(prediction), "concept": "qt",
            "token_id": "999999", "username": "no-such-user"}


def _readable_bodies(client: TestClient, role: str, targets: dict[str, str]) -> dict[str, str]:
    """The body of every GET route ``role`` may call, by path."""
    bodies = {}
    for (method, template), roles in sorted(MATRIX.items()):
        if method == "GET" and role in roles and "static" not in template:
            path = template.format(**targets)
            response = client.get(path, headers={"Accept": "text/html"}
                                  if not path.startswith("/api/") else {})
            assert response.status_code == 200, f"{path}: {response.status_code}"
            bodies[path] = response.text
    return bodies


def test_researchers_see_pseudonyms_and_no_comments_on_every_route(
        client_as, disclosed: dict[str, str]) -> None:
    clinician_view = _readable_bodies(client_as(CLIN), CLIN, disclosed)
    history = f"/api/v1/predictions/{disclosed['prediction_id']}/interventions"
    assert "clinician1" in clinician_view[history]  # the clinicians' own view names them
    assert IDENTIFYING_COMMENT in clinician_view[history]
    leaks = [path for path, body in _readable_bodies(client_as(RES), RES, disclosed).items()
             if "clinician1" in body or IDENTIFYING_COMMENT in body]
    assert leaks == []
    researcher = client_as(RES)
    shown = researcher.get(history).json()[0]
    assert shown["user"].startswith("U-") and shown["comment"] is None
    record = researcher.get(f"/api/v1/records/{disclosed['public_id']}").json()
    assert record["reviewed_by"].startswith("U-")


def _request(client: TestClient, method: str, path: str) -> int:
    kwargs: dict = {"follow_redirects": False}
    if not path.startswith("/api/"):
        kwargs["headers"] = {"Accept": "text/html"}
    if method in {"POST", "PATCH", "PUT"}:
        kwargs["json"] = {}
    return client.request(method, path, **kwargs).status_code


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_matrix(role: str, client_as, targets: dict[str, str]) -> None:
    client = client_as(None if role == ANON else role)
    if role == ANON:
        client.headers["X-CSRF-Token"] = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    wrong = []
    # Destructive and session-ending routes last, so they do not disturb the others.
    order = sorted(MATRIX, key=lambda key: (key[0] == "DELETE" or "logout" in key[1], key))
    for method, template in order:
        path = template.format(**targets)
        if "logout" in template:  # the previous logout ended the session the token was bound to
            client.headers["X-CSRF-Token"] = client.get("/api/v1/auth/csrf").json()["csrf_token"]
        status = _request(client, method, path)
        allowed = role in MATRIX[(method, template)]
        page = not template.startswith("/api/") and method == "GET"
        if allowed:
            ok = status not in (401, 403) and not (
                page and status == 303 and template not in ("/", "/login"))
        elif role == ANON:
            ok = status == (303 if page else 401)
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method} {template}: {status} (allowed={allowed})")
    assert wrong == []
