"""Injected faults: every kind is observable by a client, deterministically."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from asana_simulator import Simulator, WorkspaceSpec

from .conftest import TOKEN, Api

SPEC = WorkspaceSpec(projects=2, tasks_per_project=30, users=150, stories_per_task=(0, 2))


@pytest.fixture
def fsim():
    with Simulator(SPEC, token=TOKEN) as sim:
        yield sim, Api(sim)


@pytest.mark.parametrize("kind", ["500", "503"])
def test_json_server_errors(fsim, kind):
    sim, api = fsim
    sim.faults.configure(rate=1.0, kinds=(kind,), seed=1)
    r = api.get("/workspaces")
    assert r.status_code == int(kind)
    err = r.json()["errors"][0]
    assert err["message"]
    assert ("phrase" in err) is True   # every 5xx from Asana's app servers carries a phrase


@pytest.mark.parametrize("kind", ["502", "504"])
def test_gateway_errors_have_html_bodies(fsim, kind):
    sim, api = fsim
    sim.faults.configure(rate=1.0, kinds=(kind,))
    r = api.get("/workspaces")
    assert r.status_code == int(kind)
    assert r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_spurious_429(fsim):
    sim, api = fsim
    sim.faults.configure(rate=1.0, kinds=("429",), retry_after_s=2)
    r = api.get("/workspaces")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_dropped_connection(fsim):
    sim, api = fsim
    sim.faults.configure(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.ConnectionError):
        api.get("/workspaces")
    assert sim.requests[-1].status == 0 and sim.requests[-1].fault == "drop"


def test_connection_dropped_mid_body(fsim):
    sim, api = fsim
    sim.faults.configure(rate=1.0, kinds=("drop_mid_body",))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get("/users", limit=100, opt_fields="name,email,photo")
    assert sim.requests[-1].status == -200
    sim.faults.clear()
    assert api.get("/users", limit=100).status_code == 200   # the server is fine afterwards


def test_fault_rate_is_seeded_and_counted(fsim):
    sim, api = fsim

    def run():
        sim.faults.configure(rate=0.3, kinds=("500", "503"), seed=42)
        return [api.get("/workspaces").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 0 < first.count(200) < 40
    assert sim.faults.injected == 2 * (40 - first.count(200))


def test_fail_from_simulates_revoked_token(fsim):
    sim, api = fsim
    sim.faults.fail_from(2, status=401)
    codes = [api.get("/workspaces").status_code for _ in range(4)]
    assert codes == [200, 200, 401, 401]
    assert api.get("/workspaces").json()["errors"][0]["message"] == "Not Authorized"
    sim.faults.clear()
    sim.faults.fail_from(0, status=500)
    assert api.get("/workspaces").status_code == 500


@pytest.mark.parametrize("status", [402, 403])
def test_deny_a_path(fsim, status):
    sim, api = fsim
    path = f"/workspaces/{sim.org_workspace_gid}/tags"
    (sim.faults.premium_only if status == 402 else sim.faults.forbidden)(path)
    assert api.get(path).status_code == status
    assert api.get("/workspaces").status_code == 200


def test_repeat_paging_bug_hands_back_the_requested_offset(fsim):
    sim, api = fsim
    path = "/users"
    sim.faults.break_pagination(path, "repeat")
    first = api.ok(path, limit=40, workspace=sim.org_workspace_gid)
    offset = first["next_page"]["offset"]
    second = api.ok(path, limit=40, workspace=sim.org_workspace_gid, offset=offset)
    assert second["next_page"]["offset"] == offset
    assert {u["gid"] for u in second["data"]}.isdisjoint(u["gid"] for u in first["data"])
    assert api.ok("/workspaces", limit=1)["next_page"]["offset"] != offset  # other paths paginate


def test_cycle_paging_bug_links_the_last_page_to_the_first(fsim):
    sim, api = fsim
    path = "/users"
    sim.faults.break_pagination("/api/1.0" + path, "cycle")
    ws = sim.org_workspace_gid
    body, pages, offsets = api.ok(path, limit=100, workspace=ws), [], set()
    for _ in range(6):
        pages.append([u["gid"] for u in body["data"]])
        offsets.add(body["next_page"]["offset"])
        body = api.ok(path, limit=100, workspace=ws, offset=body["next_page"]["offset"])
    assert pages[0] == pages[2] == pages[4] and pages[1] == pages[3]
    assert len(offsets) == 6  # every offset fresh: only the records repeat
    sim.faults.clear()
    assert len(api.all_pages(path, workspace=ws)) == len(sim.store.gids("users", ws))


def test_unknown_paging_bug_is_refused(fsim):
    sim, _ = fsim
    with pytest.raises(ValueError):
        sim.faults.break_pagination("/users", "forever")


def test_latency_is_added_and_overlaps():
    with Simulator(SPEC, token=TOKEN, latency_ms=300) as sim:
        api = Api(sim)
        t0 = time.monotonic()
        assert api.get("/workspaces").status_code == 200
        assert time.monotonic() - t0 >= 0.3
        t0 = time.monotonic()
        threads = [threading.Thread(target=lambda: Api(sim).get("/workspaces")) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - t0 < 1.5
        assert sim.request_stats()["latency_ms"]["p50"] >= 300


def test_request_log(fsim):
    sim, api = fsim
    sim.reset_request_log()
    api.get(f"/projects/{sim.store.gids('projects')[0]}/tasks", limit=5, modified_since="x")
    (r,) = sim.requests
    assert r.method == "GET" and r["status"] == 200
    assert r.path.startswith("/api/1.0/projects/") and r.api_path.startswith("/projects/")
    assert r.route == "GET /projects/{project_gid}/tasks"
    assert r.query == {"limit": "5", "modified_since": "x"}
    assert r.ignored_params == ["modified_since"] and r.latency_ms >= 0
    assert sim.request_count("/projects/") == sim.request_count("/api/1.0/projects/") == 1
