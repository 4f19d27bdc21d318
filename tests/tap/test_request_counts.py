"""Requests are the cost Asana charges for: pin them (they are deterministic)."""

from __future__ import annotations

import math
import time
from collections import Counter

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


def home_projects(sim, gids) -> Counter:
    """The project each task is re-fetched through: the first listed that holds it."""
    order = [p["gid"] for p in sim.store.records("projects", workspace_gid=sim.org_workspace_gid)]
    holders = {p: set(t["gid"] for t in sim.store.tasks_in_project(p)) for p in order}
    return Counter(next(p for p in order if g in holders[p]) for g in gids)


def index_pages(sim) -> int:
    return sum(pages(n) for n in project_sizes(sim).values())


@pytest.mark.slow
def test_recurring_run_costs_what_changed(sim, tmp_path):
    """The compact index of every project (shared by tasks and stories), then
    per project with changes one GET (one change) or one modified_since
    listing (more), and one stories request per changed task."""
    config = base_config(sim, stories_incremental=True)
    first = run_tap(tmp_path, config, streams=["tasks", "stories"])
    assert first.returncode == 0, first.stderr[-2000:]
    time.sleep(1.1)
    gids = sorted(expected_gids(sim, "tasks"))
    changed = gids[:4] + gids[-1:]
    for gid in changed:
        sim.store.edit_task(gid, name=f"changed {gid}")
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["tasks", "stories"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(second.gids("tasks")) == sorted(changed)
    homes = home_projects(sim, changed)
    listings = listing_requests(sim, "/tasks")
    assert len([r for r in listings if "modified_since" not in r.query]) == index_pages(sim)
    assert len([r for r in listings if "modified_since" in r.query]) == sum(n > 1 for n in homes.values())
    singles = [r for r in sim.requests if r.route == "GET /tasks/{task_gid}"]
    assert len(singles) == sum(n == 1 for n in homes.values())
    story_requests = {r.path.split("/")[-2] for r in listing_requests(sim, "/stories")}
    assert story_requests == set(changed)
    assert len(sim.requests) == pages(len(project_sizes(sim))) + index_pages(sim) \
        + len(homes) + len(changed)


@pytest.mark.slow
def test_a_run_without_changes_costs_the_index_alone(sim, tmp_path):
    config = base_config(sim, stories_incremental=True)
    first = run_tap(tmp_path, config, streams=["tasks", "stories"])
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["tasks", "stories"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.records("tasks") == second.records("stories") == []
    assert len(sim.requests) == pages(len(project_sizes(sim))) + index_pages(sim)


@pytest.mark.slow
def test_removals_cost_one_lookup_each(sim, tmp_path):
    """A deleted task and one removed from its only project: one GET each to
    be sure, then tombstones for the task and its stories."""
    config = base_config(sim, stories_incremental=True)
    first = run_tap(tmp_path, config, streams=["tasks", "stories"])
    single_homed = [g for g in sorted(expected_gids(sim, "tasks"))
                    if len(sim.store.record("tasks", g)["projects"]) == 1]
    deleted, unlinked = single_homed[:2]
    unlinked_project = sim.store.record("tasks", unlinked)["projects"][0]["gid"]
    stories_before = {g: [s["gid"] for s in sim.store.stories_of(g)] for g in (deleted, unlinked)}
    sim.store.delete_task(deleted)
    sim.store.remove_task_from_project(unlinked, unlinked_project)
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["tasks", "stories"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    tombstones = {r["gid"] for r in second.records("tasks") if r.get("_sdc_deleted_at")}
    assert tombstones == {deleted, unlinked} == set(second.gids("tasks"))
    gone_stories = {r["gid"] for r in second.records("stories")}
    assert gone_stories == set(stories_before[deleted] + stories_before[unlinked])
    assert all(r["_sdc_deleted_at"] for r in second.records("stories"))
    lookups = [r for r in sim.requests if r.route == "GET /tasks/{task_gid}"]
    assert sorted(r.path.split("/")[-1] for r in lookups) == sorted([deleted, unlinked])
    assert len(sim.requests) == pages(len(project_sizes(sim))) + index_pages(sim) + 2


def test_a_stream_mapped_away_costs_no_request(sim, tmp_path):
    config = base_config(sim, stream_maps={"stories": None})
    run = run_tap(tmp_path, config, streams=["stories"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("stories") == [] and len(sim.requests) == 0


def test_the_small_listings_first_pages_go_out_together_each_once(sim, tmp_path):
    # Asked one stream after another they would wait a round trip each; sent
    # together at the start, every one is under way before the first
    # project's sections are asked for, and none is asked twice.
    sim.faults.set_latency(250)
    run = run_tap(tmp_path, base_config(sim), streams=["workspaces", "projects", "sections", "tags",
                                                        "teams", "users"])
    assert run.returncode == 0, run.stderr[-2000:]
    ws = sim.org_workspace_gid
    firsts = [f"/workspaces/{ws}", f"/workspaces/{ws}/projects", f"/workspaces/{ws}/tags",
              f"/workspaces/{ws}/teams", "/users"]
    requests = [r for r in sim.requests if r.status == 200]
    first_page = {path: [r for r in requests if r.api_path == path and "offset" not in r.query]
                  for path in firsts}
    assert {path: len(rs) for path, rs in first_page.items()} == {path: 1 for path in firsts}
    sections_start = min(r.started_at for r in requests if r.api_path.endswith("/sections"))
    assert all(rs[0].started_at < sections_start for rs in first_page.values())
    assert len(run.records("users")) == len(expected_gids(sim, "users"))


def test_stories_are_asked_for_while_the_tasks_are_still_listed_each_once(sim, tmp_path):
    # singer-sdk syncs tasks, then stories; the first tasks' stories go out
    # as the listing yields them, so the stories stream starts with answers
    # waiting. Same requests as without: each page of stories asked once.
    sim.faults.set_latency(50)
    # Pages of 10: each project's listing takes 13 round trips, so the
    # stories' head start is over half a second, not a race of milliseconds.
    run = run_tap(tmp_path, base_config(sim, concurrency=12, page_size=10), streams=["tasks", "stories"])
    assert run.returncode == 0, run.stderr[-2000:]
    requests = [r for r in sim.requests if r.status == 200]
    last_listing = max(r.started_at for r in requests if r.api_path == "/tasks")
    early = [r for r in requests if r.api_path.endswith("/stories") and r.started_at < last_listing]
    assert early, "no story was asked for before the last page of tasks"
    tasks = expected_gids(sim, "tasks")
    per_task = Counter(r.api_path.split("/")[-2] for r in requests if r.api_path.endswith("/stories"))
    assert per_task == {gid: pages(len(sim.store.stories_of(gid))) for gid in tasks}
    assert {s["gid"] for s in run.records("stories")} == expected_gids(sim, "stories")


def with_subtasks(sim) -> dict[str, int]:
    """Every task the subtasks walk lists: project tasks and subtasks with
    subtasks, and how many each has."""
    store, ws = sim.store, sim.org_workspace_gid
    tasks = expected_gids(sim, "tasks") | store.subtask_gids(ws)
    counts = {g: store.record("tasks", g)["num_subtasks"] for g in tasks}
    return {g: n for g, n in counts.items() if n}


def test_a_full_subtasks_walk_costs_one_request_per_task_with_subtasks(sim, tmp_path):
    """Alone: the projects, the compact index (which has num_subtasks), one
    events call per project for its first sync token, and one listing per
    100 subtasks of each task that has any, at every level."""
    run = run_tap(tmp_path, base_config(sim), streams=["subtasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    parents = with_subtasks(sim)
    assert any(g in sim.store.subtask_gids(sim.org_workspace_gid) for g in parents)   # several levels
    listed = Counter(r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks")
    assert listed == Counter({g: pages(n) for g, n in parents.items()})
    projects = len(project_sizes(sim))
    assert sim.request_count(route="GET /events", status=412) == projects == sim.request_count(route="GET /events")
    assert len(sim.requests) == pages(projects) + index_pages(sim) + projects + sum(listed.values())


def test_with_tasks_the_walk_reuses_the_tasks_listing(sim, tmp_path):
    run = run_tap(tmp_path, base_config(sim), streams=["tasks", "subtasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    projects = len(project_sizes(sim))
    walk = sum(pages(n) for n in with_subtasks(sim).values())
    assert len(listing_requests(sim, "/tasks")) == index_pages(sim)          # the full listing, once
    assert len(sim.requests) == pages(projects) + index_pages(sim) + projects + walk


@pytest.mark.slow
def test_a_recurring_subtasks_run_costs_the_events_and_what_they_name(sim, tmp_path):
    """No change: the index and one events call per project. Two subtasks
    edited (one under another parent each): one GET each. A subtask added
    under a project task: its parent's count moved in the index, so its
    subtasks are listed once (and the new one found there, no GET). Project
    tasks with subtasks edited or commented on: nothing (their subtasks'
    records are the same); renamed: its subtasks are listed (they show its
    name) and sent."""
    config = base_config(sim)
    first = run_tap(tmp_path, config, streams=["subtasks"])
    projects = len(project_sizes(sim))
    baseline = pages(projects) + index_pages(sim) + projects
    sim.reset_request_log()
    quiet = run_tap(tmp_path, config, streams=["subtasks"], state=first.final_state)
    assert quiet.returncode == 0 and quiet.records("subtasks") == []
    assert len(sim.requests) == baseline
    store, ws = sim.store, sim.org_workspace_gid
    leaves = {}   # one per parent, first level (a project's events reach it)
    for gid in sorted(store.subtask_gids(ws)):
        record = store.record("tasks", gid)
        if not record["num_subtasks"] and record["parent"]["gid"] in expected_gids(sim, "tasks"):
            leaves.setdefault(record["parent"]["gid"], gid)
    edited = sorted(leaves.values())[:2]
    for gid in edited:
        store.edit_task(gid, name=f"edited {gid}")
    parent = sorted(expected_gids(sim, "tasks"))[0]
    new = store.add_subtask(parent, name="new")
    others = {parent, *(store.record("tasks", g)["parent"]["gid"] for g in edited)}
    due, commented, renamed = sorted(g for g in expected_gids(sim, "tasks")
                                     if store.record("tasks", g)["num_subtasks"] and g not in others)[:3]
    store.edit_task(due, due_on="2030-01-01")
    store.add_story(commented, "a comment on a task with subtasks")
    store.edit_task(renamed, name="renamed, with subtasks")
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["subtasks"], state=quiet.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    shown = [t["gid"] for t in store.subtasks_of(renamed)]
    assert sorted(second.gids("subtasks")) == sorted([*edited, new, *shown])
    looked_up = sorted(r.path.split("/")[-1] for r in sim.requests if r.route == "GET /tasks/{task_gid}")
    assert looked_up == sorted(edited)
    listed = [r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"]
    assert sorted(listed) == sorted([parent, renamed])
    assert len(sim.requests) == baseline + len(edited) + sum(
        pages(store.record("tasks", g)["num_subtasks"]) for g in (parent, renamed))
