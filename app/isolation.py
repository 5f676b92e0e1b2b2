"""Untrusted work in worker processes with a hard memory cap and a CPU-time limit.

Every upload is decoded (:func:`models.ecg.io.read_upload`) and every record measured
(:func:`models.ecg.measure.measure`) in an :class:`IsolatedPool` worker, never in the API
process: a reader bug not yet found costs at most one worker, and the Python-bound parsing and
delineation run on every core instead of under the API process' GIL.

On a CPU the workers also run the network (:func:`analyse_concepts`): each loads the model
bundle once at start, with one torch thread, so that one prediction is one job on one core and
``N`` workers predict ``N`` records at once. The API process keeps only the database work and
the views (and, on a GPU, the network: one process owns the device and batches on it).

Each worker caps its address space (``RLIMIT_AS``): an allocation beyond the cap fails with
``MemoryError`` in the worker, answered as :class:`~models.ecg.errors.InputTooLarge` (413). Each
job gets a CPU-time budget (the soft ``RLIMIT_CPU``, moved up by the budget at the start of every
job): the kernel's ``SIGXCPU`` interrupts the job, answered as
:class:`~models.ecg.errors.MalformedEcg` (422). A job that does not return within a wall-clock
limit (stuck in C code where no signal handler runs), and a worker that dies (killed, crashed),
break the pool: it is rebuilt, the job that broke it is answered 413, and the other jobs that were
running are retried once on the new pool.

Workers are started by the ``forkserver`` method (from a clean server process, never a fork of
the API process with its threads, database connections and model) and warmed up with one
synthetic measurement, so the first request pays neither imports nor lazy set-up.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, status

from models.ecg.errors import InputTooLarge, MalformedEcg
from models.ecg.stored import StoredEcg

if TYPE_CHECKING:
    from pathlib import Path

    from models.bundle import LoadedBundle
    from models.ecg.record import Ecg

LOGGER = logging.getLogger("qtlens")
T = TypeVar("T")

#: Modules the fork server imports once, so that every worker starts with them loaded (and,
#: for workers that run the model, :data:`MODEL_PRELOAD_MODULES` too).
PRELOAD_MODULES = ["models.ecg.io", "models.ecg.measure", "models.ecg.synth"]
MODEL_PRELOAD_MODULES = ["models.bundle", "models.scoring"]
#: Scheduling niceness of the workers: the API process (its event loop answers ``/health`` and
#: every light request) goes first when uploads keep all cores busy.
WORKER_NICENESS = 10
#: Seconds between a worker's checks that the API process still lives.
PARENT_POLL_S = 1.0
#: One BLAS/OpenMP thread per worker: the pool itself is the parallelism.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: A running job's wall-clock limit: this many times its CPU budget plus WALL_GRACE_S seconds
#: (generous: a busy machine gives a worker a fraction of a core).
WALL_PER_CPU_SECOND = 3.0
WALL_GRACE_S = 30.0


class CpuBudgetExceeded(Exception):
    """Raised inside a worker by ``SIGXCPU``: the job used up its CPU-time budget."""


def _on_cpu_limit(_signum: int, _frame: object) -> None:
    raise CpuBudgetExceeded


#: The model bundle this worker loaded at start (:func:`_init_worker`); ``None`` in the API
#: process and in workers that only read and measure.
_worker_bundle: LoadedBundle | None = None


def _init_worker(memory_bytes: int, api_pid: int, bundle_path: Path | None) -> None:
    """Worker set-up: exit with the API process, yield the CPU to it, cap the address space,
    catch ``SIGXCPU``, load the model bundle (on the CPU, one torch thread) when given one, and
    warm up."""
    global _worker_bundle
    threading.Thread(target=_exit_with, args=(api_pid,), daemon=True,
                     name="qtlens-parent-watch").start()
    os.nice(WORKER_NICENESS)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the API process decides when workers stop
    if bundle_path is not None:
        import torch

        from models.bundle import load_bundle

        torch.set_num_threads(1)
        _worker_bundle = load_bundle(bundle_path, device="cpu")
    warm_up()


def _exit_with(api_pid: int) -> None:
    """End this worker once the API process is gone (``kill -9`` included).

    A pool worker never sees its queues close: it holds both ends of them, and the fork
    server, its parent, lives as long as its children do; without this, the workers of a
    crashed server would wait for work forever.
    """
    while True:
        time.sleep(PARENT_POLL_S)
        try:
            os.kill(api_pid, 0)
        except ProcessLookupError:
            os._exit(0)


def measure_concepts(ecg: Ecg) -> dict[str, Any]:
    """The concept measurements of ``ecg`` as stored with a prediction (ms, mV).

    Defined here, not in the prediction service, so that a worker that unpickles it imports
    the signal code only (no torch, no database layer).
    """
    from models.ecg.measure import measure

    return measure(ecg).to_dict()


def analyse_concepts(stored: StoredEcg) -> dict[str, Any]:
    """Decode a stored record, measure it and run this worker's model on it (the job of one
    prediction; the API process never decodes the signal).

    Returns:
        ``{"measurements": …, "model_output": …, "check_next": …, "model_checksum": …}`` — the
        measurements as :func:`measure_concepts` gives them (ms, mV), the model's output
        (:meth:`models.nets.prediction.ModelPrediction.to_dict`), what to check first
        (:func:`models.scoring.first_checks`) and the SHA-256 of the bundle that produced them.

    Raises:
        RuntimeError: this process holds no model (a pool started without ``bundle_path``).
    """
    from models.scoring import analyse_ecg, first_checks, measured_values

    if _worker_bundle is None:
        raise RuntimeError("this worker holds no model: start the pool with bundle_path")
    ecg = stored.ecg()
    analysis = analyse_ecg(_worker_bundle, ecg)
    return {"measurements": analysis.measurements.to_dict(),
            "model_output": analysis.prediction.to_dict(),
            "check_next": first_checks(_worker_bundle, ecg, analysis.prediction,
                                       measured_values(analysis.measurements)),
            "model_checksum": _worker_bundle.checksum}


def warm_up() -> None:
    """Analyse one synthetic ECG (measure it, and predict it when this worker holds a model), so
    that lazy imports and first-call set-up happen before real jobs."""
    import numpy as np

    from models.ecg.synth import SynthParams, generate

    ecg = generate(SynthParams(), np.random.default_rng(0)).ecg
    if _worker_bundle is None:
        measure_concepts(ecg)
    else:
        analyse_concepts(StoredEcg.of(ecg))


def _cpu_seconds_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_capped(cpu_seconds: float, function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in this worker within ``cpu_seconds`` of CPU time (s).

    Raises:
        InputTooLarge: the job ran out of the worker's memory (413).
        MalformedEcg: the job used up its CPU budget (422).
        EcgInputError: whatever ``function`` raises for bad input, unchanged.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = int(_cpu_seconds_used() + cpu_seconds) + 1
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    try:
        return function(*args)
    except MemoryError:
        raise InputTooLarge(
            "reading or measuring this ECG needs more memory than a worker may use",
            field="files",
        ) from None
    except CpuBudgetExceeded:
        raise MalformedEcg(
            f"reading or measuring this ECG took more than {cpu_seconds:g} s of CPU time",
            field="files",
        ) from None
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


class JobHung(Exception):
    """A job ran past its wall-clock limit; its worker was killed."""


class IsolatedPool:
    """A process pool for untrusted decoding and measurement, bounded like the thread pool.

    At most ``workers`` jobs run at once and ``max_waiting`` more wait (in the API process, so
    that a job's wall-clock limit starts when it runs); beyond that the caller gets 503 with
    ``Retry-After``.
    """

    def __init__(self, workers: int, max_waiting: int, memory_bytes: int,
                 cpu_seconds: float, bundle_path: Path | None = None) -> None:
        """``bundle_path``: the model bundle every worker loads (on the CPU) to run
        :func:`analyse_concepts`; ``None`` for workers that only read and measure. The memory
        cap (bytes) covers everything a worker holds, the model included."""
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.cpu_seconds = cpu_seconds
        self.bundle_path = bundle_path
        self._slots = asyncio.Semaphore(workers + max_waiting)
        self._running = asyncio.Semaphore(workers)
        self._replacing = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        """Start ``workers`` warmed-up worker processes (blocking, a second or two)."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            PRELOAD_MODULES + (MODEL_PRELOAD_MODULES if self.runs_model else []))
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        os.environ.update({name: "1" for name in _THREAD_VARIABLES})
        try:  # the fork server inherits this environment when it starts (on the first submit)
            executor = ProcessPoolExecutor(self.workers, mp_context=context,
                                           initializer=_init_worker,
                                           initargs=(self.memory_bytes, os.getpid(),
                                                     self.bundle_path))
            for future in [executor.submit(int) for _ in range(self.workers)]:
                future.result()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Replace a broken executor (once, whichever of its jobs noticed first)."""
        with self._replacing:
            if self._executor is not broken:
                return
            LOGGER.warning("a worker process died or was stopped; starting new workers")
            _kill_workers(broken)
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in a worker and await its result.

        ``function`` and its arguments must be picklable (module-level functions, plain data).
        A worker death is retried once on new workers: every job running on a worker that died
        sees the same error, and only the job that kills its worker again is refused.

        Raises:
            HTTPException: 503 when the pool and its queue are full.
            EcgInputError: what the job raised; 413 when its worker died twice, 422 when it
                ran past its wall-clock limit.
        """
        if self._slots.locked():
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the server is busy reading other ECGs; retry in a few seconds",
                headers={"Retry-After": "2"},
            )
        loop = asyncio.get_running_loop()
        async with self._slots:
            for attempt in range(2):
                executor = self._executor
                try:
                    async with self._running:
                        return await self._submit(executor, function, *args)
                except JobHung:
                    await loop.run_in_executor(None, self._replace, executor)
                    raise MalformedEcg(
                        f"reading or measuring this ECG took more than {self.wall_limit_s:g} s",
                        field="files",
                    ) from None
                except BrokenProcessPool:
                    await loop.run_in_executor(None, self._replace, executor)
                    if attempt:
                        raise InputTooLarge(
                            "the worker reading this ECG was stopped twice: it exceeded its "
                            "memory or time limits",
                            field="files",
                        ) from None
            raise AssertionError("unreachable: the second attempt returns or raises")

    @property
    def runs_model(self) -> bool:
        """Whether the workers hold the model bundle (and run :func:`analyse_concepts`)."""
        return self.bundle_path is not None

    @property
    def wall_limit_s(self) -> float:
        """Wall-clock seconds a running job may take before its worker is killed."""
        return WALL_PER_CPU_SECOND * self.cpu_seconds + WALL_GRACE_S

    async def _submit(self, executor: ProcessPoolExecutor, function: Callable[..., T],
                      *args: Any) -> T:
        future: Future[T] = executor.submit(run_capped, self.cpu_seconds, function, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.wall_limit_s)
        except TimeoutError:
            LOGGER.warning("a worker job ran past %.0f s; stopping the workers", self.wall_limit_s)
            _kill_workers(executor)
            raise JobHung from None

    def shutdown(self) -> None:
        """Stop the workers (running jobs are abandoned: the server is stopping)."""
        _kill_workers(self._executor)
        self._executor.shutdown(wait=True, cancel_futures=True)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """SIGKILL the executor's processes (``concurrent.futures`` has no public way before 3.14;
    the executor then reports itself broken and is replaced)."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()
