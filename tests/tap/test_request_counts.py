"""Requests are the cost Asana charges for: pin them (they are deterministic)."""

from __future__ import annotations

import math
import time

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.expected import expected_gids
from tests.tap.support import TOKEN, base_config, run_tap

# Projects bigger than a page, so page counts are not trivially one.
SPEC = WorkspaceSpec(projects=3, tasks_per_project=130, stories_per_task=(0, 2), seed=17)


@pytest.fixture
def sim():
    with Simulator(SPEC, token=TOKEN) as simulator:
        yield simulator


def listing_requests(sim, suffix: str) -> list:
    return [r for r in sim.requests if r.path.endswith(suffix) and r.status == 200]


def pages(n: int) -> int:
    return max(1, math.ceil(n / 100))


def project_sizes(sim) -> dict[str, int]:
    projects = sim.store.records("projects", workspace_gid=sim.org_workspace_gid)
    return {p["gid"]: len(sim.store.tasks_in_project(p["gid"])) for p in projects}


def test_full_tasks_cost_one_request_per_100_tasks_of_a_project(sim, tmp_path):
    run = run_tap(tmp_path, base_config(sim), streams=["tasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    sizes = project_sizes(sim)
    assert len(listing_requests(sim, "/tasks")) == sum(pages(n) for n in sizes.values())
    assert len(listing_requests(sim, "/projects")) == pages(len(sizes))
    assert len(sim.requests) == sum(pages(n) for n in sizes.values()) + pages(len(sizes))


def test_stories_once_per_distinct_task_plus_the_listing(sim, tmp_path):
    run = run_tap(tmp_path, base_config(sim), streams=["stories"])
    assert run.returncode == 0, run.stderr[-2000:]
    tasks = expected_gids(sim, "tasks")
    story_requests = listing_requests(sim, "/stories")
    per_task = {}
    for request in story_requests:
        gid = request.path.split("/")[-2]
        per_task[gid] = per_task.get(gid, 0) + 1
    assert set(per_task) == tasks  # multi-homed tasks too: once each
    expected_pages = {
        gid: pages(len(sim.store.stories_of(gid))) for gid in tasks
    }
    assert per_task == expected_pages
    gid_listing = [r for r in listing_requests(sim, "/tasks") if r.query.get("opt_fields") == "gid"]
    assert len(gid_listing) == sum(pages(n) for n in project_sizes(sim).values())


def test_recurring_run_costs_what_changed(sim, tmp_path):
    config = base_config(sim, stories_incremental=True)
    first = run_tap(tmp_path, config, streams=["tasks", "stories"])
    assert first.returncode == 0, first.stderr[-2000:]
    time.sleep(1.1)
    changed = sorted(expected_gids(sim, "tasks"))[:4]
    for gid in changed:
        sim.store.edit_task(gid, name=f"changed {gid}")
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["tasks", "stories"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    projects = len(project_sizes(sim))
    # tasks: one page per project (the changes fit in it); stories: the same
    # listing for the changed tasks' gids, then one request per changed task.
    task_listings = listing_requests(sim, "/tasks")
    assert len(task_listings) == 2 * projects
    story_requests = {r.path.split("/")[-2] for r in listing_requests(sim, "/stories")}
    assert story_requests == set(changed)
    assert len(sim.requests) == pages(projects) + 2 * projects + len(changed)
