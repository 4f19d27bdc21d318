"""Per-token rate limiting: a sliding 60 s request quota and a concurrency cap.

Both reject with 429 + Retry-After (integer seconds), like Asana. Every
request that reaches the limiter counts against the minute quota, including
the ones it rejects (as Asana's rate-limit docs say), so a client that retries before
Retry-After elapses digs itself deeper.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

WINDOW_S = 60.0


class RateLimited(Exception):
    def __init__(self, retry_after: int, reason: str):
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


def _check_quota(per_minute: int | None) -> None:
    # A quota of 0 would reject every request forever; None is "no quota".
    if per_minute is not None and per_minute < 1:
        raise ValueError(f"per_minute must be None or at least 1, not {per_minute!r}")


class QuotaLimiter:
    def __init__(self, per_minute: int | None = None, max_concurrent: int | None = 50,
                 clock=time.monotonic, concurrency_retry_after_s: int = 1,
                 window_s: float = WINDOW_S):
        _check_quota(per_minute)
        self.per_minute = per_minute
        # Asana's window is 60 s; tests shrink it to observe recovery quickly.
        self.window_s = window_s
        self.max_concurrent = max_concurrent
        self.concurrency_retry_after_s = concurrency_retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque] = {}
        self._in_flight: dict[str, int] = {}
        self.rejected_quota = 0
        self.rejected_concurrency = 0
        self.max_in_flight_seen = 0

    def configure(self, per_minute=..., max_concurrent=..., concurrency_retry_after_s=...):
        with self._lock:
            if per_minute is not ...:
                _check_quota(per_minute)
                self.per_minute = per_minute
            if max_concurrent is not ...:
                self.max_concurrent = max_concurrent
            if concurrency_retry_after_s is not ...:
                self.concurrency_retry_after_s = concurrency_retry_after_s

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def reset_stats(self) -> None:
        with self._lock:
            self.rejected_quota = 0
            self.rejected_concurrency = 0
            self.max_in_flight_seen = 0

    def acquire(self, token: str) -> None:
        """Admit one request or raise RateLimited. Pair with release()."""
        now = self._clock()
        with self._lock:
            win = self._windows.setdefault(token, deque())
            while win and win[0] <= now - self.window_s:
                win.popleft()
            win.append(now)  # counted whether or not it is admitted
            inflight = self._in_flight.get(token, 0)
            if self.max_concurrent is not None and inflight >= self.max_concurrent:
                self.rejected_concurrency += 1
                raise RateLimited(self.concurrency_retry_after_s, "concurrency")
            if self.per_minute is not None and len(win) > self.per_minute:
                # A retry is admitted once at most quota-1 requests remain in
                # the window (the retry itself is the quota-th), i.e. once the
                # n-quota+1 oldest (this rejected one included in n) have left.
                n = len(win)
                oldest_needed = win[n - self.per_minute]
                wait = oldest_needed + self.window_s - now
                self.rejected_quota += 1
                raise RateLimited(max(1, math.ceil(wait)), "quota")
            self._in_flight[token] = inflight + 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, inflight + 1)

    def release(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] = self._in_flight.get(token, 1) - 1

    def in_flight(self, token: str) -> int:
        with self._lock:
            return self._in_flight.get(token, 0)

    def window_count(self, token: str) -> int:
        now = self._clock()
        with self._lock:
            win = self._windows.get(token, deque())
            return sum(1 for t in win if t > now - self.window_s)
