"""Untrusted decoding and measurement run in capped worker processes (issue 18, Deliver 1).

The pool is tested on its own (a job over the memory cap, over the CPU budget, a worker killed
mid-job), then through the app: an upload that needs more memory than a worker may use is
refused with 413 while the server keeps serving, and no upload is decoded in the API process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.context import configure_torch_threads
from app.db.migrate import upgrade
from app.isolation import IsolatedPool, analyse_concepts
from app.main import build_context, create_app
from app.services import predictions as prediction_service
from app.settings import Settings
from models.bundle import load_bundle
from models.ecg.errors import InputTooLarge, MalformedEcg
from models.ecg.stored import StoredEcg
from models.ecg.synth import SynthParams, generate
from models.tasks import task_names
from tests.api.conftest import login, make_settings, seed_users
from tests.api.isolation_jobs import (
    allocate,
    analyse_in_a_worker,
    kill_own_worker,
    measure_in_a_worker,
    read_upload_in_a_worker,
    spin,
    vm_peak_bytes,
)
from tests.io import builders
from tests.processes import REPO_ROOT, child_env

GIB = 1024**3


def run(pool: IsolatedPool, function: Callable[..., Any], *args: Any) -> Any:
    return asyncio.run(pool.run(function, *args))


@pytest.fixture(scope="module")
def pool() -> Iterator[IsolatedPool]:
    pool = IsolatedPool(1, max_waiting=2, memory_bytes=4 * GIB, cpu_seconds=2.0)
    yield pool
    pool.shutdown()


def test_a_job_over_the_memory_cap_gets_413_and_the_worker_keeps_serving(
    pool: IsolatedPool,
) -> None:
    pid = run(pool, allocate, 1024)
    with pytest.raises(InputTooLarge, match="more memory than a worker may use"):
        run(pool, allocate, 8 * GIB)
    assert run(pool, allocate, 1024) == pid  # a MemoryError does not cost the worker


def test_a_job_over_its_cpu_budget_gets_422_and_the_worker_keeps_serving(
    pool: IsolatedPool,
) -> None:
    pid = run(pool, os.getpid)
    with pytest.raises(MalformedEcg, match="more than 2 s of CPU time"):
        run(pool, spin)
    assert run(pool, os.getpid) == pid


def test_a_worker_killed_mid_job_is_replaced(pool: IsolatedPool) -> None:
    pid = run(pool, os.getpid)
    with pytest.raises(InputTooLarge, match="stopped twice"):
        run(pool, kill_own_worker)
    replacement = run(pool, os.getpid)
    assert replacement != pid
    assert run(pool, allocate, 1024) == replacement


def new_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'qtlens.sqlite3'}"
    upgrade(url)
    seed_users(url)
    return url


def wfdb_upload(signal_mv: np.ndarray, fs_hz: float,
                fmt: str = "16") -> list[tuple[str, tuple[str, bytes]]]:
    files = builders.wfdb_files(signal_mv, fs_hz, fmt=fmt)
    return [("files", (f.name, f.data)) for f in files]


def test_uploads_are_decoded_and_measured_in_worker_processes_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("app.services.records.read_upload", read_upload_in_a_worker)
    monkeypatch.setattr("app.api.routes.predictions.measure_concepts", measure_in_a_worker)
    monkeypatch.setattr("app.api.routes.predictions.analyse_concepts", analyse_in_a_worker)
    with TestClient(create_app(make_settings(new_database(tmp_path)))) as client:
        login(client, "clinician1")
        uploaded = client.post("/api/v1/records", files=wfdb_upload(builders.sine_ecg(), 500.0))
        assert uploaded.status_code == 201, uploaded.text
        predicted = client.post(f"/api/v1/records/{uploaded.json()['id']}/predictions")
        assert predicted.status_code == 201, predicted.text


def test_an_upload_beyond_the_worker_memory_cap_gets_413_and_the_server_keeps_serving(
    tmp_path: Path,
) -> None:
    url = new_database(tmp_path)
    probe = IsolatedPool(1, max_waiting=0, memory_bytes=8 * GIB, cpu_seconds=30.0,
                         bundle_path=Settings().model_bundle)
    idle_bytes = run(probe, vm_peak_bytes)  # the model loaded, after the warm-up analysis
    probe.shutdown()
    # 60 MB above an idle worker: a 10-s record reads and is analysed; 12 leads of 550 s at
    # 2000 Hz (20 MB in format 212) do not (wfdb decodes them to 105 MB of float64).
    settings = make_settings(url, worker_memory_mb=(idle_bytes >> 20) + 60)
    long_signal = np.tile(builders.sine_ecg(fs_hz=2000.0, duration_s=10.0), 55)
    with TestClient(create_app(settings)) as client:
        login(client, "clinician1")
        refused = client.post("/api/v1/records", files=wfdb_upload(long_signal, 2000.0, "212"))
        assert refused.status_code == 413, refused.text
        assert "memory" in refused.json()["message"]
        assert client.get("/health").status_code == 200
        accepted = client.post("/api/v1/records", files=wfdb_upload(builders.sine_ecg(), 500.0))
        assert accepted.status_code == 201, accepted.text
        predicted = client.post(f"/api/v1/records/{accepted.json()['id']}/predictions")
        assert predicted.status_code == 201, predicted.text


@pytest.mark.parametrize("failing", ["warm_up", "Database"])
def test_a_failed_start_leaves_no_worker_process_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failing: str
) -> None:
    """The isolated workers start in a thread while the API process warms up and opens the
    database; when either fails, the start-up error is raised and the workers started meanwhile
    are stopped, not left running beside a process that is exiting."""
    started: list[list[Any]] = []  # the worker processes of each pool started

    class Recorded(IsolatedPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(list(self._executor._processes.values()))

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"{failing} failed")

    monkeypatch.setattr("app.main.IsolatedPool", Recorded)
    monkeypatch.setattr(f"app.main.{failing}", fail)
    with pytest.raises(RuntimeError, match=f"{failing} failed"):
        build_context(make_settings(new_database(tmp_path)))
    [processes] = started
    assert processes, "the workers had started"
    for process in processes:
        process.join(timeout=10)
        assert not process.is_alive()


def test_a_prediction_worker_runs_the_api_process_model() -> None:
    """On a CPU the workers run the network too: one prediction is one job on one core, and a
    worker's analysis is the one the API process would have made with the same bundle."""
    bundle_path = Settings().model_bundle
    stored = StoredEcg.of(generate(SynthParams(), np.random.default_rng(3)).ecg)
    ecg = stored.ecg()
    pool = IsolatedPool(1, max_waiting=0, memory_bytes=8 * GIB, cpu_seconds=30.0,
                        bundle_path=bundle_path)
    try:
        assert pool.runs_model
        analysed = run(pool, analyse_concepts, stored)  # decoded in the worker
    finally:
        pool.shutdown()
    bundle = load_bundle(bundle_path, device="cpu")
    in_worker = prediction_service.worker_run(bundle, analysed)
    here = prediction_service.analyse(bundle, ecg)
    assert in_worker.measurements == here.measurements
    assert in_worker.risks == pytest.approx(here.risks, abs=1e-5)
    assert {name: concept["value"] for name, concept in in_worker.model_output["concepts"].items()
            } == pytest.approx({name: concept["value"] for name, concept
                                in here.model_output["concepts"].items()}, rel=1e-5, abs=1e-4)
    def ranked(run: prediction_service.PredictionRun) -> dict[str, list[str]]:
        return {task: [s.concept for s in items] for task, items in run.check_next.items()}

    assert ranked(in_worker) == ranked(here)  # ranked in the worker as it would be here
    assert set(here.check_next) == set(task_names())
    with pytest.raises(prediction_service.ModelMismatch, match="another model bundle"):
        prediction_service.worker_run(bundle, analysed | {"model_checksum": "0" * 64})


def test_the_api_process_keeps_one_torch_thread_when_workers_run_the_network() -> None:
    """The API process of a CPU server runs only one record's task heads at a time: one torch
    thread, so that no parallel region waits for a core the workers hold; the network's own
    process shares the cores among its inference threads."""
    import torch

    before = torch.get_num_threads()
    try:
        assert configure_torch_threads(2, model_in_workers=True) == 1
        assert torch.get_num_threads() == 1
        assert configure_torch_threads(1) == max(1, os.cpu_count() or 1)
        assert torch.get_num_threads() == max(1, os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)


def test_workers_exit_when_the_api_process_is_killed() -> None:
    script = (
        "import asyncio, os, time\n"
        "from app.isolation import IsolatedPool\n"
        "if __name__ == '__main__':\n"
        "    pool = IsolatedPool(1, max_waiting=0, memory_bytes=4 << 30, cpu_seconds=10.0)\n"
        "    print(asyncio.run(pool.run(os.getpid)), flush=True)\n"
        "    time.sleep(600)\n"
    )
    api = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, env=child_env(),
                           stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(api.stdout.readline())
        os.kill(worker_pid, 0)  # alive while the API process is
    finally:
        api.kill()
        api.wait()
    deadline = time.monotonic() + 60
    while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker_pid}").exists(), "the worker outlived the killed API process"
