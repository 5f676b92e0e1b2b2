"""Concurrent clinician and researcher clients for the load and crash tests (httpx + asyncio).

Back-pressure rule: a ``503`` that carries ``Retry-After`` (the bounded inference pool is full)
is not an error when the client waits that long (at most :data:`MAX_RETRY_WAIT_S`) and a retry
of the same request then gets the expected status, within :data:`MAX_RETRIES` retries. Any
other unexpected status, a 503 that never clears, a timeout or a dropped connection is an error.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from models.concepts import REGISTRY
from models.ecg.synth import generate, sample_params
from tests.io import builders

MAX_RETRIES = 10
#: How errors without an HTTP status (refused, reset, timed out) start.
TRANSPORT_ERROR = "transport:"
MAX_RETRY_WAIT_S = 5.0
#: Concepts the clients override, with the range their values are drawn from (registry units).
OVERRIDABLE = {c.name: (c.normal_low, c.normal_high) for c in REGISTRY
               if not c.is_binary and c.derive is None and c.normal_low is not None}


@dataclass(frozen=True)
class Acknowledged:
    """An intervention the server answered 201 for: what was sent and what came back."""

    id: int
    prediction_id: int
    concept: str
    sent_value: float
    new_value: float
    username: str


@dataclass
class LoadOutcome:
    """What the clients saw."""

    acknowledged: list[Acknowledged] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    backpressure_retries: int = 0
    completed: Counter[str] = field(default_factory=Counter)
    prediction_ids: list[int] = field(default_factory=list)


def synthetic_uploads(count: int, seed: int = 0) -> list[list[tuple[str, tuple[str, bytes, str]]]]:
    """``count`` synthetic 12-lead ECGs (500 Hz, 10 s) as multipart WFDB uploads."""
    uploads = []
    for index in range(count):
        rng = np.random.default_rng(seed + index)
        record = generate(sample_params(rng), rng)
        files = builders.wfdb_files(record.ecg.signal_mv, record.ecg.fs_hz)
        uploads.append([("files", (f.name, f.data, "application/octet-stream")) for f in files])
    return uploads


async def call(client: httpx.AsyncClient, outcome: LoadOutcome, expected: int, method: str,
               url: str, **kwargs: Any) -> httpx.Response | None:
    """Send a request under the back-pressure rule; ``None`` (and an error noted) on failure."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            outcome.errors.append(f"{TRANSPORT_ERROR} {method} {url}: {error!r}")
            return None
        retry_after = response.headers.get("retry-after")
        if response.status_code == 503 and retry_after is not None and attempt < MAX_RETRIES:
            outcome.backpressure_retries += 1
            await asyncio.sleep(min(float(retry_after), MAX_RETRY_WAIT_S))
            continue
        if response.status_code != expected:
            outcome.errors.append(f"{method} {url}: {response.status_code} {response.text[:200]}")
            return None
        return response
    raise AssertionError("unreachable: the last attempt returns")


async def upload_and_predict(client: httpx.AsyncClient, outcome: LoadOutcome,
                             files: list[tuple[str, tuple[str, bytes, str]]]) -> int | None:
    """Upload one ECG and predict it; the prediction id, or ``None`` on an error."""
    uploaded = await call(client, outcome, 201, "POST", "/api/v1/records", files=files)
    if uploaded is None:
        return None
    outcome.completed["upload"] += 1
    record_id = uploaded.json()["id"]
    predicted = await call(client, outcome, 201, "POST", f"/api/v1/records/{record_id}/predictions")
    if predicted is None:
        return None
    outcome.completed["predict"] += 1
    return int(predicted.json()["id"])


async def intervene(client: httpx.AsyncClient, outcome: LoadOutcome, rng: random.Random,
                    prediction_id: int, username: str) -> Acknowledged | None:
    """Override a random concept with a random value; the acknowledgement, if any."""
    concept = rng.choice(sorted(OVERRIDABLE))
    low, high = OVERRIDABLE[concept]
    value = rng.uniform(low, high)
    response = await call(client, outcome, 201, "POST",
                          f"/api/v1/predictions/{prediction_id}/interventions",
                          json={"concept": concept, "value": value})
    if response is None:
        return None
    body = response.json()
    outcome.completed["intervene"] += 1
    return Acknowledged(body["id"], prediction_id, concept, value, body["new_value"], username)


async def clinician(client: httpx.AsyncClient, username: str, outcome: LoadOutcome,
                    uploads: list[list[tuple[str, tuple[str, bytes, str]]]], deadline: float,
                    seed: int) -> None:
    """Until ``deadline``: mostly overrides, sometimes an upload + prediction or a reload."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        action = rng.random()
        if action < 0.12 or not outcome.prediction_ids:
            prediction_id = await upload_and_predict(client, outcome, rng.choice(uploads))
            if prediction_id is not None:
                outcome.prediction_ids.append(prediction_id)
        elif action < 0.2:
            if await call(client, outcome, 200, "GET",
                          f"/api/v1/predictions/{rng.choice(outcome.prediction_ids)}"):
                outcome.completed["view"] += 1
        else:
            acknowledged = await intervene(client, outcome, rng,
                                           rng.choice(outcome.prediction_ids), username)
            if acknowledged is not None:
                outcome.acknowledged.append(acknowledged)


async def researcher(client: httpx.AsyncClient, outcome: LoadOutcome, deadline: float,
                     seed: int) -> None:
    """Until ``deadline``: exports of interventions and predictions in every format."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind = rng.choice(["interventions", "predictions"])
        export_format = rng.choice(["csv", "jsonl", "parquet"])
        if await call(client, outcome, 200, "GET", f"/api/v1/exports/{kind}",
                      params={"format": export_format}):
            outcome.completed["export"] += 1


def client_for(base_url: str, token: str) -> httpx.AsyncClient:
    """An async client carrying a personal API token."""
    return httpx.AsyncClient(base_url=base_url, timeout=120.0,
                             headers={"Authorization": f"Bearer {token}"})


async def run_load(base_url: str, clinician_tokens: dict[str, str], researcher_tokens: list[str],
                   uploads: list[list[tuple[str, tuple[str, bytes, str]]]], duration_s: float,
                   outcome: LoadOutcome) -> None:
    """Run one client per token for ``duration_s`` (requests already sent are completed)."""
    deadline = time.monotonic() + duration_s
    clients = [client_for(base_url, token)
               for token in [*clinician_tokens.values(), *researcher_tokens]]
    try:
        tasks = [clinician(clients[i], username, outcome, uploads, deadline, seed=i)
                 for i, username in enumerate(clinician_tokens)]
        tasks += [researcher(clients[len(clinician_tokens) + i], outcome, deadline, seed=1000 + i)
                  for i in range(len(researcher_tokens))]
        await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()


async def stream_interventions(base_url: str, tokens: dict[str, str], prediction_ids: list[int],
                               outcome: LoadOutcome, stop: asyncio.Event, seed: int) -> None:
    """One client per token posting overrides back to back until ``stop`` is set (client ``i``
    draws its concepts and values from ``random.Random(seed + i)``)."""
    async def stream(username: str, token: str, seed: int) -> None:
        rng = random.Random(seed)
        async with client_for(base_url, token) as client:
            while not stop.is_set():
                acknowledged = await intervene(client, outcome, rng, rng.choice(prediction_ids),
                                               username)
                if acknowledged is not None:
                    outcome.acknowledged.append(acknowledged)

    await asyncio.gather(*(stream(username, token, seed + index)
                           for index, (username, token) in enumerate(tokens.items())))
