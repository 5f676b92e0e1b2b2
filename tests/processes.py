"""Child processes of the tests and benchmarks: free loopback ports, waiting for a server to
answer, and the environment that lets a child import this checkout."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    """Poll ``url`` until it answers 200; fail if ``process`` exits or ``timeout_s`` (s) passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server did not answer {url} within {timeout_s} s")


def child_env(root: Path = REPO_ROOT, **variables: str) -> dict[str, str]:
    """This process's environment plus ``variables``, with ``root`` first on ``PYTHONPATH``
    (what was on it stays after, e.g. packages installed with ``pip --target``)."""
    python_path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **variables, "PYTHONPATH": python_path}
