"""The shared limiter's pacing logic, on a fake clock (no sleeping)."""

from __future__ import annotations

import threading

from tap_asana.http.errors import RateLimited, ServerError
from tap_asana.http.rate_limiter import WINDOW_SECONDS, QuotaEstimate, RateLimiter
from tap_asana.http.retries import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quota_is_a_sliding_minute():
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=3, max_in_flight=10, clock=clock)
    for _ in range(3):
        with limiter.slot():
            clock.now += 1
    assert limiter._delay(clock.now) == WINDOW_SECONDS - 3  # when the first send leaves the window


def test_concurrency_cap_blocks_until_a_slot_frees():
    limiter = RateLimiter(requests_per_minute=None, max_in_flight=2)
    entered = []
    release = threading.Event()

    def worker():
        with limiter.slot():
            entered.append(1)
            release.wait(5)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(100):
        if len(entered) == 2:
            break
        threading.Event().wait(0.01)
    assert len(entered) == 2  # the third waits for a slot
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(entered) == 3


def test_429_pauses_everyone_for_retry_after_and_learns_the_quota():
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=1500, max_in_flight=50, clock=clock)
    for _ in range(150):  # a free plan's quota, sent in the first minute
        with limiter.slot():
            clock.now += 0.02
    limiter.rate_limited(retry_after=7)
    assert limiter._delay(clock.now) == 7
    assert limiter.requests_per_minute() == 150


def test_a_plan_quota_is_believed_at_once():
    """A free plan (150/min) under a configured 1,500: one 429 after ~150
    requests is the free plan's quota; no probing past it, no more 429s."""
    quota = QuotaEstimate(1500)
    quota.rate_limited(now=3.0, sent_in_window=158, in_flight=6)
    for minute in range(0, 30):
        assert quota.current(3.0 + minute * WINDOW_SECONDS) == 150


def test_an_unknown_quota_is_probed_once_then_kept():
    quota = QuotaEstimate(1500)
    quota.rate_limited(now=3.0, sent_in_window=704, in_flight=4)
    assert quota.current(10.0) == 700
    assert quota.current(3.0 + WINDOW_SECONDS) == 1400  # a clean window: probe
    quota.rate_limited(now=70.0, sent_in_window=720, in_flight=4)
    assert quota.current(71.0) == 700
    for minute in range(2, 30):  # settled: no more probing
        assert quota.current(71.0 + minute * WINDOW_SECONDS) == 700


def test_a_stray_429_is_outgrown():
    """A one-off 429 (Asana's cost limiter) at low traffic must not cap the
    rest of the run: the estimate doubles back to what was configured."""
    quota = QuotaEstimate(1500)
    quota.rate_limited(now=1.0, sent_in_window=40, in_flight=2)
    assert quota.current(2.0) == 150  # never below Asana's smallest quota
    now, seen = 1.0, []
    while quota.current(now) != 1500:
        now += WINDOW_SECONDS
        seen.append(quota.current(now))
    assert seen == [300, 600, 1200, 1500]


def test_retry_after_is_never_shortened_and_5xx_back_off_with_jitter():
    waits = wait_for()
    waits.send(None)
    assert waits.send(RateLimited(12)) == 12
    transient = [waits.send(ServerError(503, "x")) for _ in range(8)]
    assert all(0 <= w <= 60 for w in transient)
    assert max(transient) > 1  # grows exponentially (capped)
