"""The application context: everything built once at start-up and shared by requests.

No module-level globals hold state: :func:`app.main.create_app` builds one :class:`AppContext`
in its lifespan and stores it on ``app.state``; several contexts (tests, several apps in one
process) never interfere.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException, status

from app.cache import LruCache
from app.db.session import Database
from app.isolation import IsolatedPool
from app.ratelimit import RateLimiter
from app.settings import Settings

LOGGER = logging.getLogger("qtlens")
T = TypeVar("T")


class WorkerPool:
    """A bounded thread pool for model work (inference, explanations) off the event loop.

    At most ``workers`` jobs run at once; at most ``max_waiting`` more wait. Beyond that the
    caller gets 503 with ``Retry-After`` instead of an ever-growing queue.
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qtlens-worker")
        self._slots = asyncio.Semaphore(workers + max_waiting)
        self._capacity = workers + max_waiting

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` in the pool and await its result."""
        if self._slots.locked():
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the server is busy analysing other ECGs; retry in a few seconds",
                headers={"Retry-After": "2"},
            )
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, functools.partial(function, *args, **kwargs)
            )

    def shutdown(self) -> None:
        """Stop accepting work and wait for running jobs."""
        self._executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class AppContext:
    """What every request may use."""

    settings: Settings
    db: Database
    model: Any  # models.bundle.LoadedBundle, typed loosely to keep torch out of this import
    pool: WorkerPool
    isolated: IsolatedPool  # decoding and measurement of untrusted input
    login_limiter: RateLimiter
    upload_limiter: RateLimiter
    explanations: LruCache  # computed explanations (app.services.explanations)


def configure_torch_threads(workers: int, model_in_workers: bool = False) -> int:
    """Size torch's intra-op thread pool of this process; returns its threads.

    When the network runs in this process (``model_in_workers=False``: a GPU, or an in-process
    measurement), each of the ``workers`` inference threads gets an equal share of the CPU cores.
    When worker processes run it (a CPU server, :class:`app.isolation.IsolatedPool`), this
    process computes only one record's task heads at a time (an edit, "check next"): one
    thread. A parallel region on such a small tensor waits for a second OpenMP thread that the
    busy workers keep off the CPU: a ``sqrt`` of 200 values took 6 ms with two threads on a
    loaded 2-core machine, 1 µs with one.
    """
    import torch

    threads = 1 if model_in_workers else max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    return threads
