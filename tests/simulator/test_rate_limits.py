"""Per-token minute quota (sliding window, rejected requests count) and the
concurrent-request cap, both answering 429 + Retry-After."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import requests

from asana_simulator import Simulator, WorkspaceSpec
from asana_simulator.quota import QuotaLimiter, RateLimited

from .conftest import TOKEN, Api

SMALL = WorkspaceSpec(projects=1, tasks_per_project=2, users=3, stories_per_task=(0, 1))
RATE_MSG = ("You've made too many requests and hit a rate limit. "
            "Please retry after the given amount of time.")


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_window_retry_after_is_exact_and_rejections_count():
    clock = FakeClock()
    q = QuotaLimiter(per_minute=3, max_concurrent=None, clock=clock)
    for _ in range(3):
        q.acquire("t")
        q.release("t")
        clock.t += 10                # requests at 1000, 1010, 1020
    clock.t = 1030.0
    try:
        q.acquire("t")
        raise AssertionError("should be limited")
    except RateLimited as e:
        # the rejected request counts: 1000 and 1010 must leave the window
        assert e.retry_after == 40
    # Retrying early (at 1065 only 1010 and 1020 would be left from the
    # admitted ones) is rejected because the rejected 1030 request counts too.
    clock.t = 1065.0
    try:
        q.acquire("t")
        raise AssertionError("should be limited")
    except RateLimited as e:
        assert e.retry_after == 15   # window: 1010,1020,1030,1065 -> wait for 1020
    clock.t = 1065.0 + 15
    q.acquire("t")                   # honouring Retry-After succeeds


def test_quota_429_and_retry_after_honoured_over_http():
    with Simulator(SMALL, token=TOKEN, quota_per_minute=5, quota_window_s=2) as sim:
        api = Api(sim)
        statuses = [api.get("/workspaces").status_code for _ in range(5)]
        assert statuses == [200] * 5
        r = api.get("/workspaces")
        assert r.status_code == 429 and r.json()["errors"][0]["message"] == RATE_MSG
        wait = int(r.headers["Retry-After"])
        assert 1 <= wait <= 2
        time.sleep(wait)
        assert api.get("/workspaces").status_code == 200


def test_quota_is_per_token():
    with Simulator(SMALL, token=TOKEN, quota_per_minute=2) as sim:
        api = Api(sim)
        assert [api.get("/workspaces").status_code for _ in range(3)] == [200, 200, 429]
        # a wrong token is rejected by auth first and has no budget of its own to spend
        assert requests.get(sim.api_url + "/workspaces", timeout=5).status_code == 401
        assert sim.quota.window_count(TOKEN) == 3


def test_concurrency_cap_with_60_parallel_slow_requests():
    with Simulator(SMALL, token=TOKEN, max_concurrent=50, latency_ms=1000) as sim:
        barrier = threading.Barrier(60)
        results = []
        lock = threading.Lock()

        def one():
            s = requests.Session()
            barrier.wait()
            r = s.get(sim.api_url + "/workspaces", headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=30)
            with lock:
                results.append((r.status_code, r.headers.get("Retry-After")))

        t0 = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        codes = sorted(c for c, _ in results)
        assert codes.count(200) == 50 and codes.count(429) == 10
        assert all(ra is not None and int(ra) >= 1 for c, ra in results if c == 429)
        assert elapsed < 5          # latency overlaps; requests were not serialized
        assert sim.quota.max_in_flight_seen == 50


def test_a_zero_quota_is_refused_not_a_crash_on_the_first_request():
    # 0 used to be accepted and made every request fail inside the limiter.
    with pytest.raises(ValueError, match="at least 1"):
        QuotaLimiter(per_minute=0)
    with pytest.raises(ValueError, match="at least 1"):
        QuotaLimiter(per_minute=5).configure(per_minute=0)
    cli = subprocess.run([sys.executable, "-m", "asana_simulator", "--quota-per-minute", "0"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and "at least 1" in cli.stderr.splitlines()[-1]
