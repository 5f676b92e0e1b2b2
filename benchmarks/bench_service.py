"""The web service against baselines measured in the same run, on real servers over loopback.

* intervention round trip ÷ a bare FastAPI echo endpoint: the echo app is built here with the
  service's own middleware, served by the same uvicorn stack, called by the same keep-alive
  client with the same JSON body, interleaved with the interventions (goal p50 ≤ 3); printed
  beside a durable-commit route of the same echo app (two rows committed through QTLens'
  own :class:`~app.db.session.Database` on SQLite), so storage's share is visible, beside
  QTLens' own audited write without model work (creating or revoking an API token:
  authentication, a chained audit row, its checkpoint and the durable commit — the floor an
  edit's model work adds to), and with a profile of one edit in process that counts the
  recomputations per edit (the state before the edit served from memory — no parse, no
  checksum check, no query of the overrides in force — one head pass for the state after, one
  batch of risk changes for "check next");
* predict (upload + predict over HTTP) ÷ the sum of its parts measured in this process: parse
  (``read_upload``) + measure (``measure``) + forward (``LoadedBundle.predict``) (goal ≤ 1.3);
* the first predict after start-up: a fresh process's first analysis without warm-up (before)
  against the first predict request of a server that warmed up at start (after);
* prediction throughput with 1 and 2 inference workers, and ``/health`` latency while 30 clients
  upload and predict at once (``--workers-only`` runs just these);
* where one analysis spends its time (cProfile), and optionally the parts measured on another
  git revision (``--baseline REV``) for before/after numbers in the same run;
* on CUDA: absolute predict and intervene latency and batch throughput.

Run: ``python -m benchmarks.bench_service`` (``python -m benchmarks`` runs it with the others).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import http.client
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.security import Role
from app.settings import Settings
from benchmarks.bench_models import median_seconds
from models.ecg.io import UploadedFile, read_upload
from models.ecg.measure import measure
from tests.io import builders
from tests.processes import child_env, free_port, wait_for
from tests.reliability.live_server import LiveServer, api_tokens, running_server

REPO_ROOT = Path(__file__).resolve().parent.parent
Multipart = list[tuple[str, tuple[str, bytes, str]]]


@dataclass(frozen=True)
class Timing:
    """Latency percentiles of repeated calls, in ms."""

    p50_ms: float
    p90_ms: float
    n: int

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        """Percentiles of wall times given in seconds."""
        ms = np.array(seconds) * 1000.0
        return cls(float(np.percentile(ms, 50)), float(np.percentile(ms, 90)), len(seconds))


@dataclass
class Report:
    """Summary rows (measure, value, goal) and Markdown detail sections, filled as we go."""

    rows: list[tuple[str, str, str]]
    sections: list[str]

    def row(self, measure_name: str, value: str, goal: str = "") -> None:
        """Add a summary row (and print it)."""
        print(f"{measure_name}: {value}" + (f"  (goal {goal})" if goal else ""), flush=True)
        self.rows.append((measure_name, value, goal))


def synthetic_ecg_files(seed: int = 0) -> list[UploadedFile]:
    """One synthetic 12-lead ECG (500 Hz, 10 s) as WFDB header + data files."""
    return builders.wfdb_files(*builders.synthetic_ecg(seed))


def multipart(files: list[UploadedFile]) -> Multipart:
    """``files`` as httpx multipart fields named ``files``."""
    return [("files", (f.name, f.data, "application/octet-stream")) for f in files]


def echo_app() -> Any:
    """A bare FastAPI app with the service's middleware: ``POST /echo`` returns its JSON body;
    ``POST /commit`` also commits two rows durably (SQLite through QTLens' own ``Database``, as
    an edit commits its event and its audit row) before answering with the body."""
    import os

    from fastapi import FastAPI
    from sqlalchemy import text

    from app.db.session import Database
    from app.main import BodySizeLimit, SecurityHeaders

    app = FastAPI()
    database = Database(os.environ.get("QTLENS_BENCH_COMMIT_URL", "sqlite://"))
    with database.write() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, "
                             "body TEXT NOT NULL)"))

    @app.post("/echo")
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @app.post("/commit")
    def commit(body: dict[str, Any]) -> dict[str, Any]:
        with database.write() as session:
            for _ in range(2):
                session.execute(text("INSERT INTO bench (body) VALUES (:body)"),
                                {"body": json.dumps(body)})
        return body

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=Settings().max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    return app


@contextmanager
def echo_server(folder: Path) -> Iterator[str]:
    """Serve :func:`echo_app` with uvicorn as ``qtlens serve`` does (one process, info log)."""
    port = free_port()
    env = {**child_env(), "QTLENS_BENCH_COMMIT_URL": f"sqlite:///{folder / 'commit.sqlite3'}"}
    with (folder / "echo.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "benchmarks.bench_service:echo_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
            cwd=REPO_ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def bearer(base_url: str, token: str) -> httpx.Client:
    """A keep-alive client carrying a personal API token."""
    return httpx.Client(base_url=base_url, timeout=120.0,
                        headers={"Authorization": f"Bearer {token}"})


def upload_and_predict(client: httpx.Client, files: Multipart) -> tuple[float, float, dict]:
    """Upload and predict one ECG: (upload s, predict s, the prediction)."""
    started = time.perf_counter()
    uploaded = client.post("/api/v1/records", files=files)
    uploaded.raise_for_status()
    between = time.perf_counter()
    predicted = client.post(f"/api/v1/records/{uploaded.json()['id']}/predictions")
    predicted.raise_for_status()
    return between - started, time.perf_counter() - between, predicted.json()


@dataclass(frozen=True)
class EditTimings:
    """The round trips of :func:`intervention_vs_echo` (the first three interleaved; the audited
    write in a loop of its own, interleaved with an echo of its own)."""

    intervention: Timing
    echo: Timing
    commit: Timing
    audited_write: Timing
    audited_echo: Timing


def intervention_vs_echo(server: LiveServer, token: str, echo_url: str, prediction_id: int,
                         n: int) -> EditTimings:
    """Interleaved round trips of an override, of the echo and of the echo's durable commit of
    two rows, all with the same body; then QTLens' own audited write without model work
    (creating or revoking a personal API token: authentication, one chained audit row and its
    checkpoint, the durable commit) interleaved with the echo. The audited writes come after
    the edits: any audit event moves the database's version, and an edit after one would load
    its prediction again instead of taking it from memory."""
    intervention_s, echo_s, commit_s, audited_s, audited_echo_s = [], [], [], [], []
    with bearer(server.base_url, token) as service, httpx.Client(base_url=echo_url) as echo:
        for i in range(n + 5):
            body = {"concept": "qt", "value": 400.0 + i % 80}
            started = time.perf_counter()
            echo.post("/echo", json=body).raise_for_status()
            echoed = time.perf_counter()
            echo.post("/commit", json=body).raise_for_status()
            committed = time.perf_counter()
            service.post(f"/api/v1/predictions/{prediction_id}/interventions",
                         json=body).raise_for_status()
            if i >= 5:  # the first few open connections and fill caches
                echo_s.append(echoed - started)
                commit_s.append(committed - echoed)
                intervention_s.append(time.perf_counter() - committed)
        for i in range(n + 5):
            started = time.perf_counter()
            echo.post("/echo", json={"name": f"bench {i}"}).raise_for_status()
            echoed = time.perf_counter()
            created = service.post("/api/v1/me/tokens", json={"name": f"bench {i}"})
            created.raise_for_status()
            made = time.perf_counter()
            service.delete(f"/api/v1/me/tokens/{created.json()['id']}").raise_for_status()
            if i >= 5:
                audited_echo_s.append(echoed - started)
                audited_s.extend((made - echoed, time.perf_counter() - made))
    return EditTimings(Timing.of(intervention_s), Timing.of(echo_s), Timing.of(commit_s),
                       Timing.of(audited_s), Timing.of(audited_echo_s))


def calls_per_run(profiler: cProfile.Profile, function: Callable[..., Any], repeats: int) -> float:
    """How many times ``function`` ran per run in a profile of ``repeats`` runs."""
    code = getattr(function, "__func__", function).__code__
    key = (code.co_filename, code.co_firstlineno, code.co_name)
    return pstats.Stats(profiler).stats.get(key, (0, 0))[1] / repeats  # type: ignore[attr-defined]


def intervention_profile(database_url: str, bundle_path: Path, prediction_id: int,
                         edits: int) -> str:
    """cProfile of ``edits`` overrides done in this process exactly as the route does them
    (lock, load the state, edit, view the state after): how often each costly step ran per edit,
    and the QTLens functions with the most cumulative time."""
    from sqlalchemy import select

    from app.db.session import Database
    from app.services import predictions as service
    from app.services.users import User
    from models import intervene
    from models.bundle import load_bundle
    from models.nets.prediction import ModelPrediction

    db = Database(database_url)
    bundle = load_bundle(bundle_path, device="cpu")
    with db.read() as session:
        user_id = session.execute(select(User.id).where(User.role == "clinician")).scalars().first()

    def one_edit(value: float) -> None:
        with db.write() as session:
            user = session.get(User, user_id)
            edit = service.edit_prediction(session, bundle, prediction_id, user, "qt",
                                           "override", value)
            service.prediction_view(edit.after, user)

    one_edit(401.0)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(edits):
        one_edit(402.0 + i % 60)
    profiler.disable()
    db.dispose()
    counted_functions = {
        "task-head passes (recompute; the state before the edit is served from memory)":
            intervene.recompute,
        "batches of risk changes for check next (both risks in one)": intervene.risk_changes,
        "parses of the stored prediction (ModelPrediction.from_dict)": ModelPrediction.from_dict,
        "bundle checksum checks (head_batch)": intervene.head_batch,
        "queries of the interventions in force (overrides and fiducial moves)":
            service.latest_events,
    }
    counted = "\n".join(f"| {what} | {calls_per_run(profiler, function, edits):g} |"
                         for what, function in counted_functions.items())
    top = "\n".join(f"| {label} | {ms:.2f} |"
                     for ms, label in sorted(own_functions(profiler, edits),
                                                     reverse=True)[:14])
    return ("| computed per edit (override of QT with overrides in force) | calls |\n|---|---|\n"
            + counted + "\n\n| function (cumulative, per edit, in process) | ms |\n|---|---|\n"
            + top)


def median_s(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``function`` in seconds (after one untimed call)."""
    function()
    return median_seconds(function, repeats)


def predict_parts_ms(files: list[UploadedFile], bundle_path: Path, repeats: int) -> dict[str, float]:
    """Median ms of the three parts of predict, in this process, torch threads as the server."""
    from app.context import configure_torch_threads
    from models.bundle import load_bundle

    settings = Settings()
    configure_torch_threads(settings.inference_workers)
    bundle = load_bundle(bundle_path, device="cpu")
    ecg = read_upload(files, settings.ingest_limits).ecg
    return {
        "parse": median_s(lambda: read_upload(files, settings.ingest_limits), repeats) * 1000,
        "measure": median_s(lambda: measure(ecg), repeats) * 1000,
        "forward": median_s(lambda: bundle.predict([ecg]), repeats) * 1000,
    }


#: Run in a fresh interpreter: the first analysis of a process that did not warm up.
COLD_FIRST_ANALYSIS = """
import sys, time
from app.context import configure_torch_threads
from app.services.predictions import analyse
from app.settings import Settings
from models.bundle import load_bundle
from models.ecg.io import read_paths
settings = Settings()
configure_torch_threads(settings.inference_workers)
bundle = load_bundle(settings.model_bundle, device="cpu")
ecg = read_paths([sys.argv[1]]).ecg
started = time.perf_counter()
analyse(bundle, ecg)
print((time.perf_counter() - started) * 1000)
"""


def cold_first_analysis_ms(files: list[UploadedFile], folder: Path) -> float:
    """The first ``analyse`` of a fresh process without warm-up, in ms (the "before")."""
    for file in files:
        (folder / file.name).write_bytes(file.data)
    header = next(f.name for f in files if f.name.endswith(".hea"))
    done = subprocess.run([sys.executable, "-c", COLD_FIRST_ANALYSIS, str(folder / header)],
                          cwd=REPO_ROOT, env=child_env(),
                          capture_output=True, text=True, check=True, timeout=600)
    return float(done.stdout.strip().splitlines()[-1])


#: Run in a checkout of another revision: the parts of predict there, as JSON.
PARTS_AT_REVISION = """
import json, statistics, sys, time
from pathlib import Path
import torch
from models.bundle import load_bundle
from models.ecg.io import UploadedFile, read_upload
from models.ecg.measure import measure
torch.set_num_threads(int(sys.argv[3]))
folder, repeats = Path(sys.argv[1]), int(sys.argv[2])
files = [UploadedFile(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
bundle = load_bundle(sys.argv[4], device="cpu")
ecg = read_upload(files).ecg
def median_ms(function):
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter(); function(); times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000
print(json.dumps({"parse": median_ms(lambda: read_upload(files)),
                  "measure": median_ms(lambda: measure(ecg)),
                  "forward": median_ms(lambda: bundle.predict([ecg]))}))
"""


def parts_at_revision(revision: str, files: list[UploadedFile], bundle_path: Path,
                      repeats: int, folder: Path) -> dict[str, float]:
    """The parts of predict measured on a ``git worktree`` of ``revision`` (the "before")."""
    from app.context import configure_torch_threads

    checkout = folder / "baseline-checkout"
    subprocess.run(["git", "worktree", "add", "--detach", str(checkout), revision], cwd=REPO_ROOT,
                   check=True, capture_output=True, timeout=120)
    ecg_folder = folder / "baseline-ecg"
    ecg_folder.mkdir()
    for file in files:
        (ecg_folder / file.name).write_bytes(file.data)
    try:
        threads = configure_torch_threads(Settings().inference_workers)
        done = subprocess.run(
            [sys.executable, "-c", PARTS_AT_REVISION, str(ecg_folder), str(repeats), str(threads),
             str(bundle_path)],
            cwd=checkout, env=child_env(checkout), capture_output=True,
            text=True, check=True, timeout=600)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=REPO_ROOT,
                       check=False, capture_output=True, timeout=120)


def own_functions(profiler: cProfile.Profile, repeats: int) -> list[tuple[float, str]]:
    """QTLens' own functions in a profile of ``repeats`` runs: (cumulative ms per run,
    ``folder/file.py:function``)."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return [(cumulative / repeats * 1000, f"{Path(file).parent.name}/{Path(file).name}:{name}")
            for (file, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
            if str(REPO_ROOT) in file and "benchmarks" not in file and not name.startswith("<")]


def predict_profile(files: list[UploadedFile], bundle_path: Path, repeats: int) -> str:
    """The 12 functions of QTLens' own code with the most cumulative time in ``analyse``."""
    from app.services.predictions import analyse
    from models.bundle import load_bundle

    bundle = load_bundle(bundle_path, device="cpu")
    ecg = read_upload(files).ecg
    analyse(bundle, ecg)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        analyse(bundle, ecg)
    profiler.disable()
    lines = [f"| {label} | {ms:.1f} |"
             for ms, label in sorted(own_functions(profiler, repeats), reverse=True)[:12]]
    return "| function (cumulative, per analysis) | ms |\n|---|---|\n" + "\n".join(lines)


def predictions_per_second(base_url: str, token: str, record_ids: list[str],
                           concurrency: int) -> float:
    """Predict every record with ``concurrency`` clients at once; predictions per second.

    Each client is a thread on one keep-alive :mod:`http.client` connection. A server's clients
    run on other machines; here they share its two cores, so the load generator must cost as
    little as it can: an httpx ``AsyncClient`` spent about 6 ms of CPU per prediction, a tenth
    of the work being measured, and that share grew with the number of workers it fed.
    """
    pending = list(record_ids)
    address = urllib.parse.urlsplit(base_url)
    headers = {"Authorization": f"Bearer {token}"}

    def client_loop() -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
        try:
            while True:
                try:
                    record_id = pending.pop()
                except IndexError:
                    return
                while True:
                    connection.request("POST", f"/api/v1/records/{record_id}/predictions",
                                       headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                    if response.status != 503:
                        break
                    time.sleep(float(response.getheader("retry-after", "1")))
                if response.status != 201:
                    raise RuntimeError(f"prediction of {record_id}: {response.status} {body!r}")
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as clients:
        for client in [clients.submit(client_loop) for _ in range(concurrency)]:
            client.result()
    return len(record_ids) / (time.perf_counter() - started)


#: Alternating rounds of the throughput comparison (the median round of each server counts).
THROUGHPUT_ROUNDS = 5
#: Predictions per round. A round ends with its last prediction: while the last jobs drain, a
#: server with two workers has one idle, which a one-worker server never has. That drain is
#: about half a job per round — 3–4 % of a 2-worker round of 28 predictions, 1 % of one of 84 —
#: and is no part of the steady throughput being compared.
THROUGHPUT_ROUND_PREDICTIONS = 84


def throughput(worker_counts: tuple[int, ...], files: Multipart, n_records: int,
               folder: Path) -> dict[int, float]:
    """Predictions per second (4 clients) of one server per entry of ``worker_counts``
    inference workers, all started at once; the servers take turns for
    :data:`THROUGHPUT_ROUNDS` rounds of ``n_records`` predictions each (an idle server costs no
    CPU), so that a burst of other load on the machine hits every server alike. Returns each
    server's median round."""
    rates: dict[int, list[float]] = {workers: [] for workers in worker_counts}
    with ExitStack() as stack:
        servers = {}
        for workers in worker_counts:
            database_url = f"sqlite:///{folder / f'throughput-{workers}.sqlite3'}"
            server = stack.enter_context(running_server(
                database_url, folder, inference_workers=str(workers),
                upload_rate_per_minute="100000"))
            token = next(iter(api_tokens(database_url, Role.CLINICIAN, 1).values()))
            with bearer(server.base_url, token) as client:
                record_ids = []
                for _ in range(n_records * THROUGHPUT_ROUNDS):
                    response = client.post("/api/v1/records", files=files)
                    response.raise_for_status()
                    record_ids.append(response.json()["id"])
            servers[workers] = (server, token, record_ids)
        for round_index in range(THROUGHPUT_ROUNDS):
            for workers, (server, token, record_ids) in servers.items():
                batch = record_ids[round_index * n_records:(round_index + 1) * n_records]
                rates[workers].append(predictions_per_second(server.base_url, token, batch, 4))
    return {workers: statistics.median(rounds) for workers, rounds in rates.items()}


async def health_during_uploads(base_url: str, token: str, files: Multipart,
                                n_uploads: int) -> tuple[list[float], float]:
    """``GET /health`` latencies (s) while ``n_uploads`` clients each upload and predict one
    record at once, and the seconds the uploads took."""
    async with httpx.AsyncClient(base_url=base_url, timeout=300.0,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def upload_and_predict_one() -> None:
            while (response := await client.post("/api/v1/records", files=files)).status_code \
                    == 503:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            response.raise_for_status()
            path = f"/api/v1/records/{response.json()['id']}/predictions"
            while (response := await client.post(path)).status_code == 503:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            response.raise_for_status()

        started = time.perf_counter()
        uploads = asyncio.gather(*(upload_and_predict_one() for _ in range(n_uploads)))
        latencies: list[float] = []
        async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as probe:
            while not uploads.done():
                sent = time.perf_counter()
                (await probe.get("/health")).raise_for_status()
                latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(0.02)
        await uploads
        return latencies, time.perf_counter() - started


def worker_rows(report: Report, upload: Multipart, folder: Path) -> None:
    """Prediction throughput with 1 and 2 workers, and /health p99 under 30 concurrent uploads
    (2 workers: reading, measurement and, on a CPU, the network in worker processes)."""
    n_records = THROUGHPUT_ROUND_PREDICTIONS
    rates = throughput((1, 2), upload, n_records, folder)
    report.row("prediction throughput, 1 → 2 inference workers (4 clients, median of "
               f"{THROUGHPUT_ROUNDS} alternating rounds of {n_records})",
               f"{rates[1]:.1f} → {rates[2]:.1f} predictions/s (× {rates[2] / rates[1]:.2f})",
               "≥ 1.6 on 2 cores")
    database_url = f"sqlite:///{folder / 'health.sqlite3'}"
    with running_server(database_url, folder, inference_workers="2",
                        upload_rate_per_minute="100000") as server:
        token = next(iter(api_tokens(database_url, Role.CLINICIAN, 1).values()))
        latencies, seconds = asyncio.run(health_during_uploads(server.base_url, token, upload, 30))
    ms = np.array(latencies) * 1000.0
    report.row("/health during 30 concurrent uploads + predictions (2 workers)",
               f"p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms "
               f"({len(ms)} probes over {seconds:.1f} s)", "p99 ≤ 50 ms")


def gpu_rows(report: Report, files: list[UploadedFile], bundle_path: Path) -> None:
    """Absolute predict / intervene latency and batch throughput on CUDA, or say there is none."""
    import torch

    if not torch.cuda.is_available():
        report.row("GPU", "no GPU (CUDA not available): CPU numbers only")
        return
    from models.bundle import load_bundle
    from models.intervene import intervene

    bundle = load_bundle(bundle_path, device="cuda")
    ecg = read_upload(files).ecg
    prediction = bundle.predict([ecg])[0]
    qt = prediction.concepts["qt"].value if prediction.concepts else None
    name = torch.cuda.get_device_name(bundle.device)
    report.row(f"predict() on {name}, 1 ECG",
               f"{median_s(lambda: bundle.predict([ecg]), 30) * 1000:.2f} ms")
    if qt is not None:
        report.row(f"intervene() with a model on {name} (task head on the CPU)",
                   f"{median_s(lambda: intervene(bundle, prediction, {'qt': qt + 40}), 100) * 1e6:.0f} µs")
    for batch in (32, 256):
        seconds = median_s(lambda ecgs=[ecg] * batch: (bundle.predict(ecgs),
                                                      torch.cuda.synchronize()), 5)
        report.row(f"predict() batch {batch} on {name}", f"{batch / seconds:.0f} ECGs/s")


def intervention_rows(report: Report, timings: EditTimings) -> None:
    """The intervention's round trip against the echo, beside the durable commit's and beside
    QTLens' audited write without model work (the floor the edit's model work adds to)."""
    echo = timings.echo
    report.row("intervention round trip ÷ echo round trip (p50)",
               f"{timings.intervention.p50_ms / echo.p50_ms:.1f} "
               f"({timings.intervention.p50_ms:.1f} ms ÷ {echo.p50_ms:.2f} ms; p90 "
               f"{timings.intervention.p90_ms:.1f} ÷ {echo.p90_ms:.2f} ms)", "≤ 3")
    for what, timing, baseline in (
        ("durable commit of two rows (same echo app)", timings.commit, echo),
        ("audited write without model work (create or revoke an API token; its own loop)",
         timings.audited_write, timings.audited_echo),
    ):
        report.row(f"{what} ÷ echo round trip (p50)",
                   f"{timing.p50_ms / baseline.p50_ms:.1f} ({timing.p50_ms:.2f} ms ÷ "
                   f"{baseline.p50_ms:.2f} ms)")


def run_intervention(report: Report, repeats: int) -> None:
    """Only the intervention benchmark: round trips against the echo and the durable commit,
    and the in-process profile of one edit."""
    bundle_path = Settings().model_bundle
    with tempfile.TemporaryDirectory(prefix="qtlens-bench-") as directory:
        folder = Path(directory)
        database_url = f"sqlite:///{folder / 'qtlens.sqlite3'}"
        with running_server(database_url, folder, upload_rate_per_minute="100000") as server:
            token = next(iter(api_tokens(database_url, Role.CLINICIAN, 1).values()))
            with bearer(server.base_url, token) as client:
                first = upload_and_predict(client, multipart(synthetic_ecg_files()))[2]
            with echo_server(folder) as echo_url:
                timings = intervention_vs_echo(server, token, echo_url, first["id"], 10 * repeats)
        intervention_rows(report, timings)
        report.sections.append("### One edit, in process (cProfile)\n\n" + intervention_profile(
            database_url, bundle_path, first["id"], 5 * repeats))


def run(report: Report, repeats: int, baseline: str | None) -> None:
    """Every service benchmark, into ``report``."""
    bundle_path = Settings().model_bundle
    files = synthetic_ecg_files()
    upload = multipart(files)
    with tempfile.TemporaryDirectory(prefix="qtlens-bench-") as directory:
        folder = Path(directory)
        database_url = f"sqlite:///{folder / 'qtlens.sqlite3'}"
        cold_ms = cold_first_analysis_ms(files, folder)
        with running_server(database_url, folder, upload_rate_per_minute="100000") as server:
            token = next(iter(api_tokens(database_url, Role.CLINICIAN, 1).values()))
            with bearer(server.base_url, token) as client:
                first = upload_and_predict(client, upload)[2]
                http = [upload_and_predict(client, upload) for _ in range(repeats)]
            with echo_server(folder) as echo_url:
                timings = intervention_vs_echo(server, token, echo_url, first["id"], 10 * repeats)
        parts = predict_parts_ms(files, bundle_path, repeats)
        report.row("first predict after start: analysis ms (before = fresh process, no warm-up)",
                   f"before {cold_ms:.0f} ms, after {first['latency_ms']:.0f} ms")
        intervention_rows(report, timings)
        report.sections.append("### One edit, in process (cProfile)\n\n" + intervention_profile(
            database_url, bundle_path, first["id"], 5 * repeats))
        upload_ms = statistics.median(h[0] for h in http) * 1000
        predict_ms = statistics.median(h[1] for h in http) * 1000
        analysis_ms = statistics.median(h[2]["latency_ms"] for h in http)
        total_ms = upload_ms + predict_ms
        parts_ms = sum(parts.values())
        report.row("predict (HTTP upload + predict) ÷ (parse + measure + forward)",
                   f"{total_ms / parts_ms:.2f} ({upload_ms:.0f} + {predict_ms:.0f} ms ÷ "
                   f"{parts['parse']:.1f} + {parts['measure']:.1f} + {parts['forward']:.1f} ms)",
                   "≤ 1.3")
        report.row("analysis in the worker pool ÷ (measure + forward)",
                   f"{analysis_ms / (parts['measure'] + parts['forward']):.2f} "
                   f"({analysis_ms:.1f} ms, from the stored latency)")
        if baseline:
            before = parts_at_revision(baseline, files, bundle_path, repeats, folder)
            report.row(f"parts of predict at {baseline} → now (ms)",
                       ", ".join(f"{k} {before[k]:.1f} → {parts[k]:.1f}" for k in parts))
        worker_rows(report, upload, folder)
        gpu_rows(report, files, bundle_path)
        report.sections.append("### Where one analysis spends its time (cProfile)\n\n"
                               + predict_profile(files, bundle_path, repeats))


def main() -> None:
    """Run the service benchmarks and print the summary rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--baseline", help="git revision to measure the parts of predict on too")
    parser.add_argument("--part", choices=("all", "intervention"), default="all",
                        help="intervention: only the edit round trip, its baselines and profile")
    parser.add_argument("--workers-only", action="store_true",
                        help="only the worker rows: throughput 1 → 2 workers, /health p99")
    args = parser.parse_args()
    report = Report([], [])
    if args.part == "intervention":
        run_intervention(report, args.repeats)
    elif args.workers_only:
        with tempfile.TemporaryDirectory(prefix="qtlens-bench-") as directory:
            worker_rows(report, multipart(synthetic_ecg_files()), Path(directory))
    else:
        run(report, args.repeats, args.baseline)
    print("\n\n".join(report.sections))


if __name__ == "__main__":
    main()
