"""Jobs the isolation tests send to worker processes.

Kept apart from the test module so that a worker importing them loads what a production worker
loads (the readers, the measurement and the model bundle), not the whole application.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np

from app.isolation import analyse_concepts, measure_concepts
from models.ecg.io import IngestLimits, IngestResult, UploadedFile, read_upload
from models.ecg.record import Ecg


def vm_peak_bytes() -> int:
    """This process' largest address-space size so far (``VmPeak``), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmPeak in /proc/self/status")


def allocate(n_bytes: int) -> int:
    """Touch ``n_bytes`` of memory in the worker; returns the worker's pid."""
    np.ones(n_bytes, dtype=np.uint8)
    return os.getpid()


def spin() -> None:
    """Burn CPU until the budget runs out."""
    while True:
        pass


def kill_own_worker() -> None:
    """Die the way the kernel's OOM killer kills."""
    os.kill(os.getpid(), signal.SIGKILL)


def read_upload_in_a_worker(files: list[UploadedFile], limits: IngestLimits) -> IngestResult:
    """``read_upload``, failing when it runs in the API process rather than a worker."""
    assert multiprocessing.parent_process() is not None, "decoded in the API process"
    return read_upload(files, limits)


def measure_in_a_worker(ecg: Ecg) -> dict[str, Any]:
    """``measure_concepts``, failing when it runs in the API process rather than a worker."""
    assert multiprocessing.parent_process() is not None, "measured in the API process"
    return measure_concepts(ecg)


def analyse_in_a_worker(ecg: Ecg) -> dict[str, Any]:
    """``analyse_concepts``, failing when it runs in the API process rather than a worker."""
    assert multiprocessing.parent_process() is not None, "predicted in the API process"
    return analyse_concepts(ecg)
