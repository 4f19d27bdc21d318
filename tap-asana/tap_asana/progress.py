"""Periodic `PROGRESS {json}` lines on stderr, for whoever runs the tap.

Singer keeps stdout for messages; a long sync is otherwise silent for
minutes. omniload reads these lines to show records, requests and time spent
waiting on Asana's rate limits as the run goes.
"""

from __future__ import annotations

import json
import sys
import threading

from tap_asana.http.rate_limiter import RateLimiter


class Progress:
    def __init__(self, limiter: RateLimiter, interval_seconds: float) -> None:
        self._limiter = limiter
        self._interval = interval_seconds
        self._stream: str | None = None
        self._records = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_stream(self, name: str) -> None:
        if self._stream is not None:
            self.report()
        self._stream, self._records = name, 0
        if self._interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def record(self) -> None:
        self._records += 1

    def report(self) -> None:
        if self._interval <= 0 or self._stream is None:
            return
        stats = self._limiter.stats
        line = {
            "stream": self._stream,
            "records": self._records,
            "requests": stats.requests,
            "rate_limit_waits": stats.waits,
            "rate_limit_wait_seconds": round(stats.wait_seconds, 1),
        }
        sys.stderr.write("PROGRESS " + json.dumps(line) + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        self._stop.set()
        self.report()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.report()
