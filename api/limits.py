"""Rate limits of the API: requests per token (`HONEYFRAME_RATE_LIMIT_PER_MINUTE`) and failed admin logins per
client address (`HONEYFRAME_ADMIN_LOGINS_PER_MINUTE`), each over a sliding minute (the last 60 s).

The counters live in the API process (`app.state.request_limits`, `app.state.login_limits`): with N worker
processes (`HONEYFRAME_API_WORKERS`) a client that spreads its requests over them gets up to N times the limit,
and a restart forgets them. The client address is the TCP peer's: behind a reverse proxy every client has the
proxy's address, so the login limit is then shared by all of them (no `X-Forwarded-For` is trusted).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class SlidingWindow:
    """At most `limit` events per key within any WINDOW_SECONDS: each key keeps the times of its events of the last
    window (at most `limit` of them), so the count and the wait are exact. Keys with no event in the last window
    are dropped once a window. Thread-safe (routes run in worker threads)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._next_sweep = 0.0
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Count one event for `key` and return None, or, when it would pass the limit, count nothing and return
        the seconds to wait (for Retry-After)."""
        with self._lock:
            now, events = self._recent(key)
            wait = self._wait(now, events)
            if wait is None:
                events.append(now)
            return wait

    def retry_after(self, key: str) -> int | None:
        """The seconds to wait before `key` may have one more event; None: it may now. Counts nothing."""
        with self._lock:
            return self._wait(*self._recent(key))

    def hit(self, key: str) -> None:
        """Count one event that happened (e.g. a failed login), whatever the limit (only the newest are kept)."""
        with self._lock:
            now, events = self._recent(key)
            events.append(now)
            while len(events) > self.limit:
                events.popleft()

    def _recent(self, key: str) -> tuple[float, deque[float]]:
        now = self.clock()
        start = now - WINDOW_SECONDS
        if now >= self._next_sweep:
            self._events = {k: e for k, e in self._events.items() if e and e[-1] > start}
            self._next_sweep = now + WINDOW_SECONDS
        events = self._events.setdefault(key, deque())
        while events and events[0] <= start:
            events.popleft()
        return now, events

    def _wait(self, now: float, events: deque[float]) -> int | None:
        """None if one more event fits now; else the whole seconds until the oldest counted one leaves the window."""
        if len(events) < self.limit:
            return None
        return max(1, math.ceil(events[-self.limit] + WINDOW_SECONDS - now))
