"""``kill -9`` the server while clinicians stream overrides; nothing acknowledged may be lost.

Eight clients post overrides back to back; after a random 0.5–2 s the server process gets
SIGKILL (no shutdown handler runs, open transactions are cut off) and is started again on the
same database. Two cycles (twelve with ``QTLENS_LONG_TESTS=1``), on SQLite (WAL,
``synchronous=FULL``) and PostgreSQL. After every restart: every acknowledged (201) override is
stored with the values the client saw; a row the client never heard back about may exist (the
commit can precede the lost response) but must be complete with its audit event; both hash
chains verify. At the end, after one more override, ``python -m app audit verify`` exits 0.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx

from app.security import Role
from tests.reliability.conftest import long_mode
from tests.reliability.live_server import LiveServer, api_tokens, running_server
from tests.reliability.load import (
    TRANSPORT_ERROR,
    LoadOutcome,
    stream_interventions,
    synthetic_uploads,
    upload_and_predict,
)
from tests.reliability.stored import (
    acknowledgement_problems,
    chain_problems,
    stored_interventions,
)

CLIENTS = 8


async def stream_then_kill(server: LiveServer, tokens: dict[str, str], prediction_ids: list[int],
                           outcome: LoadOutcome, delay_s: float, seed: int) -> None:
    """Stream overrides and SIGKILL the server after ``delay_s`` while they are in flight."""
    stop = asyncio.Event()
    streaming = asyncio.create_task(
        stream_interventions(server.base_url, tokens, prediction_ids, outcome, stop, seed))
    await asyncio.sleep(delay_s)
    server.kill()
    stop.set()
    await streaming


async def predictions(base_url: str, token: str, count: int) -> list[int]:
    """Upload and predict ``count`` synthetic ECGs; their prediction ids."""
    outcome = LoadOutcome()
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        ids = [await upload_and_predict(client, outcome, files)
               for files in synthetic_uploads(count)]
    assert not outcome.errors, outcome.errors
    return [prediction_id for prediction_id in ids if prediction_id is not None]


def test_acknowledged_edits_survive_kill_9_and_the_chain_verifies(
    database_url: str, tmp_path: Path
) -> None:
    cycles = 12 if long_mode() else 2
    rng = random.Random(20240607)
    acknowledged = []
    with running_server(database_url, tmp_path) as server:
        tokens = api_tokens(database_url, Role.CLINICIAN, CLIENTS)
        prediction_ids = asyncio.run(predictions(server.base_url, next(iter(tokens.values())), 2))
        for cycle in range(cycles):
            outcome = LoadOutcome()
            asyncio.run(stream_then_kill(server, tokens, prediction_ids, outcome,
                                         rng.uniform(0.5, 2.0), seed=cycle * CLIENTS))
            assert not server.is_alive()
            unexpected = [e for e in outcome.errors if not e.startswith(TRANSPORT_ERROR)]
            assert unexpected == [], unexpected[:5]
            assert outcome.acknowledged, f"cycle {cycle}: no override was acknowledged"
            acknowledged += outcome.acknowledged

            server.start()
            stored = stored_interventions(database_url)
            assert acknowledgement_problems(acknowledged, stored) == []
            unacknowledged = set(stored) - {ack.id for ack in acknowledged}
            assert len(unacknowledged) <= CLIENTS * (cycle + 1)
            assert chain_problems(database_url) == []

        # Both chains go on after the crashes.
        with httpx.Client(base_url=server.base_url, headers={
                "Authorization": f"Bearer {next(iter(tokens.values()))}"}) as client:
            override = client.post(f"/api/v1/predictions/{prediction_ids[0]}/interventions",
                                   json={"concept": "qt", "value": 480.0})
        assert override.status_code == 201, override.text
        verified = server.audit_verify()
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.count(", OK") == 2, verified.stdout
