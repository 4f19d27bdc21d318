"""Simulator tests: a real server on 127.0.0.1, spoken to over HTTP."""
from __future__ import annotations

import pytest
import requests

from asana_simulator import Simulator, WorkspaceSpec

TOKEN = "sim-test-token"
SPEC = WorkspaceSpec(projects=4, tasks_per_project=12, users=120, tags=6, teams=3,
                     stories_per_task=(1, 6), seed=7)


class Api:
    """Thin client: get(path, **params) -> requests.Response."""

    def __init__(self, sim, token=TOKEN):
        self.sim = sim
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {token}"

    def get(self, path, **params):
        return self.s.get(self.sim.api_url + path, params=params, timeout=30)

    def ok(self, path, **params):
        r = self.get(path, **params)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        return r.json()

    def all_pages(self, path, **params):
        params.setdefault("limit", 100)
        out = []
        body = self.ok(path, **params)
        out += body["data"]
        while body["next_page"]:
            body = self.ok(path, **{**params, "offset": body["next_page"]["offset"]})
            out += body["data"]
        return out


@pytest.fixture(scope="module")
def sim():
    with Simulator(SPEC, token=TOKEN) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim):
    return Api(sim)


@pytest.fixture
def fresh():
    """A simulator of its own, for tests that mutate or reconfigure it."""
    with Simulator(WorkspaceSpec(projects=3, tasks_per_project=6, users=10, seed=3),
                   token=TOKEN) as s:
        yield s, Api(s)


def message(resp) -> str:
    return resp.json()["errors"][0]["message"]
