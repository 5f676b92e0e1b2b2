"""A small in-process sliding-window rate limiter (login and upload).

Per worker process; behind several workers the effective limit is multiplied by their number
(documented in the README). A deployment that needs a global limit puts one in its reverse proxy.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """Allow at most ``limit`` events per ``window_s`` seconds per key (e.g. client address)."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, key: str) -> float:
        """Record an attempt for ``key``; 0 when allowed, else seconds until one is allowed."""
        now = time.monotonic()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._drop_idle(now)
                events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return self.window_s - (now - events[0])
            events.append(now)
            return 0.0

    def _drop_idle(self, now: float) -> None:
        idle = [k for k, v in self._events.items() if not v or now - v[-1] >= self.window_s]
        for key in idle:
            del self._events[key]
        if len(self._events) >= self.max_keys:  # still full: forget the oldest keys
            for key in list(self._events)[: len(self._events) // 2]:
                del self._events[key]
