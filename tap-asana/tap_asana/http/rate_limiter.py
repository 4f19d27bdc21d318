"""One limiter shared by every request of a run, whatever thread sends it.

Asana enforces, per token, a per-minute quota (150 on free plans, 1,500 on
paid ones), at most 50 GETs in flight, and answers 429 + Retry-After when
either is exceeded. Rejected requests still count against the quota, so
bouncing off it is self-defeating: we pace to the quota instead, and when a
429 arrives anyway we stop *every* thread until Retry-After has passed and
lower our idea of the quota to what the server evidently allows.

Asana's limits: https://developers.asana.com/docs/rate-limits
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Asana's quota is per minute. We count a request when we send it, Asana when
# it arrives: with jittery latency, pacing on exactly 60 s lets a request now
# and then land inside Asana's minute as one too many, and be rejected. One
# second more absorbs the jitter for a 61st of the throughput.
WINDOW_SECONDS = 61.0
# Asana's smallest per-minute quota (free plans). A learnt quota never goes
# below it: a stray 429 early in a run (the cost limiter, a flaky proxy) must
# not slow the rest of the run down to a crawl.
MIN_LEARNT_RPM = 150
# Asana's documented per-minute quotas (free, paid). A 429 after about that
# many requests is that quota: believed at once, without probing past it.
KNOWN_QUOTAS = (150, 1500)


class QuotaEstimate:
    """What we believe the token's per-minute quota is.

    It starts as configured. A 429 means the last window held one request too
    many, so the estimate drops to what we had sent in it (less what was still
    in flight, which may be rejected too). A 429 can also be a one-off, so an
    estimate is then probed upwards: doubled after each full window without
    a 429, never past the configured value. A 429 during a probe restores the
    value that held, for the rest of the run: one probe, not a 429 a minute.
    An estimate that matches one of Asana's plan quotas is not probed at all.
    """

    def __init__(self, configured: float | None) -> None:
        self.configured = configured
        self.limit = configured
        self._held: float | None = None  # the value before the running probe
        self._changed_at: float | None = None
        self._settled = False

    def current(self, now: float) -> float | None:
        if self._probe_due(now) and self.limit is not None:
            self._held = self.limit
            doubled = self.limit * 2
            self.limit = doubled if self.configured is None else min(self.configured, doubled)
            self._changed_at = now
        return self.limit

    def _probe_due(self, now: float) -> bool:
        return (
            not self._settled
            and self._changed_at is not None
            and self.limit != self.configured
            and now - self._changed_at >= WINDOW_SECONDS
        )

    def rate_limited(self, now: float, sent_in_window: int, in_flight: int) -> None:
        probing = self._held is not None and now - (self._changed_at or now) < WINDOW_SECONDS
        if probing:
            self.limit, self._settled = self._held, True
        else:
            accepted = sent_in_window - in_flight
            estimate = max(MIN_LEARNT_RPM, accepted)
            plan = [q for q in KNOWN_QUOTAS if 0.9 * q <= accepted <= 1.1 * q]
            if plan:
                estimate, self._settled = plan[0], True
            self.limit = estimate if self.limit is None else min(self.limit, estimate)
        self._held = None
        self._changed_at = now


@dataclass
class LimiterStats:
    requests: int = 0
    waits: int = 0
    wait_seconds: float = 0.0


class RateLimiter:
    def __init__(
        self,
        requests_per_minute: int | None,
        max_in_flight: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quota = QuotaEstimate(requests_per_minute)
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._cond = threading.Condition()
        self.stats = LimiterStats()

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def requests_per_minute(self) -> float | None:
        """The quota we pace to now: configured, or learnt from 429s."""
        with self._cond:
            return self._quota.current(self._clock())

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot for the duration of a request."""
        self._acquire()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _acquire(self) -> None:
        waited_since: float | None = None
        with self._cond:
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay == 0.0:
                    self._sent.append(now)
                    self._in_flight += 1
                    self.stats.requests += 1
                    if waited_since is not None:
                        self.stats.waits += 1
                        self.stats.wait_seconds += now - waited_since
                    return
                if waited_since is None:
                    waited_since = now
                self._cond.wait(timeout=delay)

    def _delay(self, now: float) -> float | None:
        """0.0 if a request may go now, else how long to wait (None: until notified)."""
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()
        if now < self._paused_until:
            return self._paused_until - now
        if self._in_flight >= self._max_in_flight:
            return None
        rpm = self._quota.current(now)
        if rpm is not None and len(self._sent) >= rpm:
            return self._sent[0] + WINDOW_SECONDS - now
        return 0.0

    def rate_limited(self, retry_after: float) -> None:
        """A 429 arrived: pause everyone, and believe the server about its quota."""
        with self._cond:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + retry_after)
            sent = sum(1 for t in self._sent if t > now - WINDOW_SECONDS)
            self._quota.rate_limited(now, sent, self._in_flight)
            self._cond.notify_all()
