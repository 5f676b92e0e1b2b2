"""Probe ``/health`` from a process of its own and print the latencies (ms) as JSON.

Run as ``python -m tests.reliability.probe PORT DURATION_S INTERVAL_S``. A separate process with
only the standard library, so that neither the load generator's event loop nor its interpreter
lock adds to what is measured. One keep-alive connection; a request every ``INTERVAL_S``.
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def probe(port: int, duration_s: float, interval_s: float) -> list[float]:
    """Latencies in ms of ``GET /health`` on ``127.0.0.1:port``; raises on a non-200 answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies_ms = []
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
        if response.status != 200:
            raise RuntimeError(f"/health answered {response.status}")
        time.sleep(interval_s)
    connection.close()
    return latencies_ms


if __name__ == "__main__":
    port, duration, interval = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(probe(port, duration, interval)))
