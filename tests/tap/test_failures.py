"""Faults outside our control are survived exactly; user errors end in one line."""

from __future__ import annotations

from collections import Counter

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.expected import expected_gids
from tests.tap.support import TOKEN, base_config, run_tap

SPEC = WorkspaceSpec(projects=3, tasks_per_project=8, seed=5)
STREAMS = ["projects", "sections", "tasks", "stories", "users"]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    with Simulator(SPEC, token=TOKEN) as sim:
        run = run_tap(tmp_path_factory.mktemp("clean"), base_config(sim), streams=STREAMS)
        assert run.returncode == 0, run.stderr[-2000:]
        return {stream: sorted(run.gids(stream)) for stream in STREAMS}


def assert_exact(run, clean_run):
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in STREAMS:
        gids = run.gids(stream)
        assert Counter(gids).most_common(1)[0][1] == 1, f"duplicates in {stream}"
        assert sorted(gids) == clean_run[stream], stream


@pytest.mark.slow
@pytest.mark.parametrize("kinds", [("500", "502", "503", "504"), ("drop", "drop_mid_body"), ("429",)])
def test_faults_are_retried_without_loss_or_duplicates(tmp_path, clean_run, kinds):
    with Simulator(SPEC, token=TOKEN) as sim:
        sim.faults.configure(rate=0.25, kinds=kinds, seed=3)
        run = run_tap(tmp_path, base_config(sim, max_tries=10), streams=STREAMS)
        injected = sim.faults.injected
        assert_exact(run, clean_run)
        assert injected > 0


@pytest.mark.slow
def test_quota_is_paced_not_stormed(tmp_path):
    """A free plan's 150/min under the default 1,500: the first 429 teaches the
    quota (Retry-After honoured, every thread paused), then the tap paces to it."""
    spec = WorkspaceSpec(projects=4, tasks_per_project=45, stories_per_task=(0, 1), seed=8)
    with Simulator(spec, token=TOKEN, quota_per_minute=150) as sim:
        run = run_tap(tmp_path, base_config(sim), streams=["stories"], timeout=400)
        assert run.returncode == 0, run.stderr[-3000:]
        gids = run.gids("stories")
        assert len(gids) == len(set(gids)) and set(gids) == expected_gids(sim, "stories")
        statuses = Counter(r.status for r in sim.requests)
        assert statuses[200] > 150  # more than one minute's quota was needed
        assert statuses[429] > 0  # so the tap met the limit ...
        # ... and paced to it afterwards: only what was in flight then was refused.
        assert statuses[429] <= base_config(sim)["concurrency"] + 1


def test_expired_offset_restarts_the_listing(tmp_path):
    with Simulator(WorkspaceSpec(projects=2, tasks_per_project=12, users=30, seed=9), token=TOKEN) as sim:
        clean = run_tap(tmp_path, base_config(sim, page_size=5), streams=["users"])
        sim.expire_offsets_after(requests=3)
        run = run_tap(tmp_path, base_config(sim, page_size=5), streams=["users"])
        assert run.returncode == 0, run.stderr[-2000:]
        assert sorted(run.gids("users")) == sorted(clean.gids("users"))
        assert len(run.gids("users")) == len(set(run.gids("users")))
        assert any(r.status == 400 for r in sim.requests)


def one_error_line(run) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-asana: error: ")
    return last


def test_bad_token(tmp_path):
    with Simulator(SPEC, token=TOKEN) as sim:
        run = run_tap(tmp_path, base_config(sim, access_token="wrong-" + TOKEN), streams=["tasks"])
        assert "access token was rejected" in one_error_line(run)
        assert ("wrong-" + TOKEN) not in run.stderr


def test_unknown_workspace(tmp_path):
    with Simulator(SPEC, token=TOKEN) as sim:
        run = run_tap(tmp_path, base_config(sim, workspace_gid="1234567890123456"), streams=["tags"])
        assert "workspace 1234567890123456 was not found" in one_error_line(run)


@pytest.mark.parametrize(
    ("deny", "message"), [("premium_only", "paid Asana plan"), ("forbidden", "may not read")]
)
def test_plan_gated_or_forbidden_endpoint(tmp_path, deny, message):
    with Simulator(SPEC, token=TOKEN) as sim:
        getattr(sim.faults, deny)(f"/workspaces/{sim.org_workspace_gid}/tags")
        run = run_tap(tmp_path, base_config(sim), streams=["tags"])
        assert message in one_error_line(run)


def test_plain_http_outside_loopback_is_refused(tmp_path):
    config = {"access_token": TOKEN, "api_url": "http://asana.example.com/api/1.0"}
    run = run_tap(tmp_path, config, streams=["workspaces"])
    assert "clear text" in one_error_line(run)


def test_invalid_config(tmp_path):
    run = run_tap(tmp_path, {"access_token": TOKEN, "page_size": 500}, streams=["workspaces"])
    assert "invalid config" in one_error_line(run)


def test_unreachable_api_ends_in_one_line(tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"access_token": TOKEN, "api_url": f"http://127.0.0.1:{port}/api/1.0", "max_tries": 2}
    run = run_tap(tmp_path, config, streams=["workspaces"])
    line = one_error_line(run)
    assert f"gave up on GET /workspaces after 2 tries: could not connect to 127.0.0.1:{port}" in line
    assert "connection refused" in line


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("drop", "accepted the connection but closed it before answering"),
        ("drop_mid_body", "answered, but the connection dropped before the whole body arrived"),
    ],
)
def test_a_connection_that_always_drops_is_named_as_such(tmp_path, kind, what):
    with Simulator(SPEC, token=TOKEN) as sim:
        sim.faults.configure(rate=1.0, kinds=(kind,))
        run = run_tap(tmp_path, base_config(sim, max_tries=2), streams=["users"])
        line = one_error_line(run)
        assert f"gave up on GET /users after 2 tries: {sim.api_url.split('/')[2]} {what}" in line


@pytest.mark.parametrize("mode", ["repeat", "cycle"])
@pytest.mark.parametrize(("stream", "prefix"), [("users", "/users"), ("tasks", "/tasks")])
def test_a_listing_that_never_ends_stops_the_run(tmp_path, mode, stream, prefix):
    with Simulator(SPEC, token=TOKEN) as sim:
        sim.faults.break_pagination(prefix, mode)
        run = run_tap(tmp_path, base_config(sim, page_size=5), streams=[stream], timeout=60)
        line = one_error_line(run)
        assert prefix in line
        assert ("already given" if mode == "repeat" else "goes in circles") in line
        # Stopped within a few pages per listing, not after the quota is gone.
        listings = {(r.path, r.query.get("project")) for r in sim.requests
                    if r.api_path.startswith(prefix)}
        pages = sim.request_count(path_prefix="/api/1.0" + prefix)
        assert pages <= len(listings) * (40 if mode == "cycle" else 3)

