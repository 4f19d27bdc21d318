"""The CLI-started simulator and its /_sim HTTP control interface."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import requests


@pytest.fixture(scope="module")
def proc():
    p = subprocess.Popen(
        [sys.executable, "-m", "asana_simulator", "--port", "0", "--seed", "1", "--projects", "3",
         "--tasks-per-project", "4", "--users", "12", "--latency-ms", "0",
         "--quota-per-minute", "1500", "--token", "demo-token"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    info = json.loads(line)
    yield p, info
    if p.poll() is None:
        p.kill()
        p.wait()


def test_ready_line_and_api(proc):
    p, info = proc
    assert set(info) >= {"api_url", "control_url", "token", "workspace_gid"}
    assert info["token"] == "demo-token"
    r = requests.get(info["api_url"] + "/workspaces",
                     headers={"Authorization": "Bearer demo-token"}, timeout=10)
    assert r.status_code == 200
    assert info["workspace_gid"] in [w["gid"] for w in r.json()["data"]]


def test_control_interface(proc):
    _, info = proc
    c, api = info["control_url"], info["api_url"]
    h = {"Authorization": "Bearer demo-token"}
    got = requests.get(c + "/info", timeout=10).json()
    assert got["sizes"]["projects"] == 3 + 2 and got["quota_per_minute"] == 1500

    tasks = requests.get(c + "/gids", params={"resource": "tasks",
                                             "workspace_gid": info["workspace_gid"]},
                         timeout=10).json()["gids"]
    r = requests.post(c + "/mutate", json={"op": "edit_task",
                                           "args": {"gid": tasks[0], "name": "via control"}},
                      timeout=10)
    assert r.status_code == 200 and r.json()["result"]["name"] == "via control"
    assert requests.get(c + "/record", params={"resource": "tasks", "gid": tasks[0]},
                        timeout=10).json()["record"]["name"] == "via control"
    assert requests.post(c + "/mutate", json={"op": "nope"}, timeout=10).status_code == 400

    requests.post(c + "/requests/reset", timeout=10)
    requests.post(c + "/faults", json={"rate": 1.0, "kinds": ["503"], "seed": 1}, timeout=10)
    assert requests.get(api + "/workspaces", headers=h, timeout=10).status_code == 503
    requests.post(c + "/faults/clear", timeout=10)
    off = requests.get(api + "/users", params={"limit": 2}, headers=h,
                       timeout=10).json()["next_page"]["offset"]
    requests.post(c + "/expire_offsets", timeout=10)
    assert requests.get(api + "/users", params={"limit": 2, "offset": off}, headers=h,
                        timeout=10).status_code == 400
    stats = requests.get(c + "/requests/stats", timeout=10).json()
    assert stats["total"] == 3 and stats["by_status"] == {"503": 1, "200": 1, "400": 1}
    assert stats["faults_injected"] == {"503": 1}
    log = requests.get(c + "/requests", timeout=10).json()["requests"]
    assert [x["status"] for x in log] == [503, 200, 400]


def test_subtask_and_event_options():
    p = subprocess.Popen(
        [sys.executable, "-m", "asana_simulator", "--port", "0", "--projects", "2", "--tasks-per-project", "10",
         "--subtask-fraction", "1", "--subtask-nesting", "0.5", "--subtask-parent-share", "0.3",
         "--events-bubble-all-levels", "--sync-token-ttl-s", "60", "--token", "t"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        c = info["control_url"]
        got = requests.get(c + "/info", timeout=10).json()["events"]
        assert got == {"recorded": 0, "dropped": 0, "bubble_all_levels": True, "token_ttl_s": 60.0}
        subtasks = requests.get(c + "/subtask_gids", params={"workspace_gid": info["workspace_gid"]},
                                timeout=10).json()["gids"]
        assert len(subtasks) == 20
        parents = {requests.get(c + "/record", params={"resource": "tasks", "gid": g}, timeout=10)
                   .json()["record"]["parent"]["gid"] for g in subtasks}
        assert len(parents) < 20 and parents & set(subtasks)     # clustered, and nested
        requests.post(c + "/events", json={"drop_next": 1}, timeout=10)
        requests.post(c + "/mutate", json={"op": "edit_task", "args": {"gid": subtasks[0], "name": "x"}},
                      timeout=10)
        assert requests.get(c + "/events", timeout=10).json()["events"] == []
    finally:
        p.kill()
        p.wait()


def test_sigterm_stops_cleanly(proc):
    p, _ = proc
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0
