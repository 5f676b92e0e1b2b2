"""Schemathesis against the service's own OpenAPI schema, as each role, on a real server.

For every operation of ``/api/v1/openapi.json`` schemathesis generates requests that fit the
schema (positive) and requests that break it (negative); path parameters are either generated
or pinned to real records, predictions and a user, so that the success responses are exercised
too. Every request carries a personal API token of the role (bearer requests skip CSRF). A token
that a generated ``DELETE /me/tokens/{id}`` revokes is replaced by a fresh one.

Checks (zero failures allowed): no server error; every status code documented; the documented
content type; every response body valid against its documented schema; documented headers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db.session import Database
from app.security import Role
from app.services.users import create_user
from tests.io import builders
from tests.reliability.live_server import PASSWORD, ROLES, LiveServer, running_server

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance)
#: A user the admin's generated PATCH requests may change without locking out the test's users.
VICTIM = "victim1"
#: Requests per operation in CI mode (fewer where the schema allows fewer distinct requests).
EXAMPLES_PER_OPERATION = 25


@dataclass
class Tokens:
    """A personal API token per role, replaced when a generated request revokes it."""

    server: LiveServer
    current: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of ``role``'s current token."""
        if role not in self.current:
            self.renew(role)
        return {"Authorization": f"Bearer {self.current[role]}"}

    def renew(self, role: str) -> None:
        """Mint a fresh token through a login session."""
        client = self.server.client(role)
        try:
            response = client.post("/api/v1/me/tokens", json={"name": "schemathesis"})
        finally:
            client.close()
        assert response.status_code == 201, response.text
        self.current[role] = response.json()["token"]

    def is_revoked(self, role: str) -> bool:
        """Whether ``role``'s token no longer authenticates."""
        with httpx.Client(base_url=self.server.base_url, headers=self.headers(role)) as client:
            return client.get("/api/v1/me").status_code == 401


def seed(server: LiveServer) -> dict[str, list[str]]:
    """Two predicted records with an override each and a victim user: real path parameters."""
    database = Database(server.database_url)
    with database.write() as session:
        create_user(session, VICTIM, PASSWORD, Role.CLINICIAN)
    database.dispose()
    files = builders.wfdb_files(*builders.synthetic_ecg())
    record_ids, prediction_ids = [], []
    client = server.client("clinician")
    try:
        for _ in range(2):
            upload = client.post("/api/v1/records", files=[
                ("files", (f.name, f.data, "application/octet-stream")) for f in files])
            assert upload.status_code == 201, upload.text
            record_ids.append(upload.json()["id"])
            prediction = client.post(f"/api/v1/records/{record_ids[-1]}/predictions")
            assert prediction.status_code == 201, prediction.text
            prediction_ids.append(str(prediction.json()["id"]))
            override = client.post(f"/api/v1/predictions/{prediction_ids[-1]}/interventions",
                                   json={"concept": "qt", "value": 470.0})
            assert override.status_code == 201, override.text
    finally:
        client.close()
    return {"public_id": record_ids, "prediction_id": prediction_ids, "username": [VICTIM],
            "concept": ["qt", "qtc_fridericia"], "token_id": ["1"]}


def pinned(operation: Any, real: dict[str, list[str]], choice: int) -> dict[str, Any]:
    """The operation's path parameters set to real values (the ``choice``-th where several)."""
    names = [parameter.name for parameter in operation.path_parameters]
    return {name: real[name][choice % len(real[name])] for name in names if name in real}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with its rate limits lifted."""
    with running_server(database_url, tmp_path, upload_rate_per_minute="1000000",
                        login_rate_per_minute="1000000") as live:
        yield live


def test_every_operation_conforms_to_the_schema_for_every_role(
    server: LiveServer, scale: int
) -> None:
    real = seed(server)
    schema = schemathesis.openapi.from_url(f"{server.base_url}/api/v1/openapi.json")
    tokens = Tokens(server)
    failures: dict[tuple[str, str], str] = {}
    statuses: Counter[tuple[str, int]] = Counter()
    # Deletions last, so that the pinned records and predictions live through the other tests.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda operation: operation.method.upper() == "DELETE")
    assert len(operations) >= 25

    for operation in operations:
        strategies = [operation.as_strategy(mode) for mode in GenerationMode]
        if operation.path_parameters:
            strategies += [operation.as_strategy(path_parameters=pinned(operation, real, i))
                           for i in range(2)]

        @settings(max_examples=EXAMPLES_PER_OPERATION * scale, deadline=None, database=None,
                  phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=list(HealthCheck))
        @given(role=st.sampled_from(ROLES), case=st.one_of(strategies))
        def call(role: str, case: schemathesis.Case) -> None:
            headers = tokens.headers(role)
            response = case.call(base_url=server.base_url, headers=headers, timeout=60)
            statuses[(case.operation.label, response.status_code)] += 1
            try:
                case.validate_response(response, checks=list(CHECKS), headers=headers)
            except BaseException as error:  # noqa: BLE001 - schemathesis raises a FailureGroup
                failures.setdefault((case.operation.label, role), f"{error}"[:1500])
            if response.status_code == 401 and tokens.is_revoked(role):
                tokens.renew(role)

        call()

    report = "\n\n".join(f"{label} as {role}:\n{text}" for (label, role), text in failures.items())
    assert not failures, f"{len(failures)} operation/role pairs failed:\n{report}"
    answered = sum(statuses.values())
    assert answered >= 15 * len(operations) * scale
    succeeded = {label for label, status in statuses if status < 300}
    assert len(succeeded) >= 2 * len(operations) // 3, sorted(
        {operation.label for operation in operations} - succeeded)
