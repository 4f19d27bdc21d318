"""The subtasks stream against the simulator: every level after a full walk,
and exact after rounds of additions, edits, nesting, un-nesting, deletions
and parent deletions, followed through the projects' events; what events
miss (lost, or too deep to bubble) caught by the periodic walk."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.expected import assert_same_records, expected_records
from tests.subtask_changes import change_subtasks, depth
from tests.tap.support import TOKEN, base_config, run_tap

SPEC = WorkspaceSpec(projects=3, tasks_per_project=12, subtask_fraction=0.9, subtask_nesting=0.4,
                     stories_per_task=(0, 1), seed=23)


@pytest.fixture(params=["depth one", "every level"])
def sim(request):
    """Asana doesn't say whether a project's events carry its sub-subtasks'
    ones: the stream must end up exact either way."""
    with Simulator(SPEC, token=TOKEN, events_bubble_all_levels=request.param == "every level") as simulator:
        yield simulator


class Table:
    """The subtasks table a target with hard deletes keeps from the runs."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.state: dict | None = None

    def sync(self, sim, tmp_path, streams=("subtasks",), **settings):
        run = run_tap(tmp_path, base_config(sim, **settings), streams=list(streams), state=self.state)
        assert run.returncode == 0, run.stderr[-3000:]
        for record in run.records("subtasks"):
            if record.get("_sdc_deleted_at"):
                self.rows.pop(record["gid"], None)
            else:
                self.rows[record["gid"]] = record
        self.state = run.final_state
        return run

    def assert_exact(self, sim, history=()):
        assert_same_records(self.rows, expected_records(sim, "subtasks"), f"subtasks after {list(history)}")


def test_a_full_walk_lists_every_level_once(tmp_path):
    with Simulator(SPEC, token=TOKEN) as sim:
        store, ws = sim.store, sim.org_workspace_gid
        in_both = sorted(store.subtask_gids(ws))[0]          # a subtask that is in a project too
        store.add_task_to_project(in_both, store.gids("projects", ws)[-1])
        table = Table()
        run = table.sync(sim, tmp_path)
        table.assert_exact(sim)
        levels = {depth(sim, g) for g in table.rows}
        assert max(levels) >= 3, levels
        listed = [r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"]
        with_subtasks = {g for g in store.gids("tasks", ws) if store.record("tasks", g)["num_subtasks"]
                         and (g in table.rows or store.record("tasks", g)["projects"])}
        assert sorted(listed) == sorted(with_subtasks)          # each parent once, no other task
        assert len(run.gids("subtasks")) == len(table.rows)
        both = run_tap(tmp_path, base_config(sim), streams=["tasks", "subtasks"])
        assert in_both in both.gids("tasks") and in_both in both.gids("subtasks")


@pytest.mark.slow
def test_exact_after_every_run_where_events_reach(sim, tmp_path):
    """Changes down to the level the project's events reach are in the
    table after the next run; everything else after the next walk."""
    bubbles = sim.events.bubble_all_levels
    table, rng, history = Table(), random.Random(3), []
    table.sync(sim, tmp_path)
    for _ in range(4):
        history += change_subtasks(sim, rng, 12, max_depth=None if bubbles else 1)
        table.sync(sim, tmp_path)
        table.assert_exact(sim, history)
    if not bubbles:
        history += change_subtasks(sim, rng, 12)                          # deeper too: the walk brings them
        table.sync(sim, tmp_path, subtasks_reconcile_hours=0)
        table.assert_exact(sim, history)


def test_a_recurring_run_reads_only_what_events_name(tmp_path):
    """An edited subtask: one GET. A renamed one with subtasks: its subtasks
    show its name, so they are listed (one request) and sent too."""
    with Simulator(SPEC, token=TOKEN) as sim:
        table = Table()
        table.sync(sim, tmp_path)
        store, ws = sim.store, sim.org_workspace_gid
        first_level = sorted(g for g in store.subtask_gids(ws) if depth(sim, g) == 1)
        leaf = next(g for g in first_level if not store.record("tasks", g)["num_subtasks"])
        parent = next(g for g in first_level if store.record("tasks", g)["num_subtasks"])
        store.edit_task(leaf, name="edited once")
        store.edit_task(parent, name="renamed parent")
        sim.reset_request_log()
        run = table.sync(sim, tmp_path)
        kids = {t["gid"] for t in store.subtasks_of(parent)}
        assert sorted(run.gids("subtasks")) == sorted({leaf, parent} | kids)
        table.assert_exact(sim)
        projects = len(store.gids("projects", ws))
        assert {r.route for r in sim.requests} == {
            "GET /workspaces/{workspace_gid}/projects", "GET /tasks", "GET /events", "GET /tasks/{task_gid}",
            "GET /tasks/{task_gid}/subtasks"}
        assert sim.request_count(route="GET /events") == projects
        assert sorted(r.path.split("/")[-1] for r in sim.requests if r.route == "GET /tasks/{task_gid}") \
            == sorted([leaf, parent])
        assert [r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"] \
            == [parent]


def test_a_subtask_deleted_and_restored_between_runs_comes_back_with_its_subtree(tmp_path):
    """Restored, its subtasks come back too, modified, with no event of
    their own and nothing moved in what they show of their parent."""
    with Simulator(SPEC, token=TOKEN) as sim:
        table = Table()
        table.sync(sim, tmp_path)
        store = sim.store
        restored = next(g for g in sorted(store.subtask_gids(sim.org_workspace_gid))
                        if depth(sim, g) == 1 and store.record("tasks", g)["num_subtasks"])
        store.delete_task(restored)
        store.undelete_task(restored)
        table.sync(sim, tmp_path)
        table.assert_exact(sim)


def test_the_subtree_of_a_task_taken_out_of_every_project_leaves_without_a_walk(tmp_path):
    """Its subtasks are still in Asana, under a task in no project: out of
    the table's scope, every level of them, and nothing of it is listed."""
    with Simulator(SPEC, token=TOKEN) as sim:
        store, ws = sim.store, sim.org_workspace_gid
        table = Table()
        table.sync(sim, tmp_path)
        deep = next(g for g in sorted(table.rows) if depth(sim, g) >= 2)
        top = deep
        while store.record("tasks", top)["parent"]:
            top = store.record("tasks", top)["parent"]["gid"]
        subtree = {g for g in table.rows if _under(sim, g, top)}
        assert deep in subtree and len(subtree) >= 2
        for project in store.record("tasks", top)["projects"]:
            store.remove_task_from_project(top, project["gid"])
        sim.reset_request_log()
        run = table.sync(sim, tmp_path)
        gone = {r["gid"] for r in run.records("subtasks") if r.get("_sdc_deleted_at")}
        assert gone == subtree - store.subtask_gids(ws)   # a subtask also under a project task stays
        assert len(gone) >= 2
        assert not set(table.rows) & gone
        listed = {r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"}
        assert not listed & (subtree | {top})
        table.assert_exact(sim)


def _under(sim, gid: str, ancestor: str) -> bool:
    record = sim.store.record("tasks", gid)
    while record["parent"]:
        if record["parent"]["gid"] == ancestor:
            return True
        record = sim.store.record("tasks", record["parent"]["gid"])
    return False


def test_several_changed_siblings_cost_one_listing_of_their_parent(tmp_path):
    with Simulator(SPEC, token=TOKEN) as sim:
        store = sim.store
        top = sorted(store.gids("tasks", project_gid=store.gids("projects", sim.org_workspace_gid)[0]))[0]
        siblings = [store.add_subtask(top, name=f"sibling {i}") for i in range(3)]
        table = Table()
        table.sync(sim, tmp_path)
        for gid in siblings:
            store.edit_task(gid, completed=True)
        sim.reset_request_log()
        run = table.sync(sim, tmp_path)
        assert sorted(run.gids("subtasks")) == sorted(siblings)
        assert sim.request_count(route="GET /tasks/{task_gid}") == 0
        assert [r.path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"] == [top]
        table.assert_exact(sim)


def test_an_expired_token_walks_that_project_again(tmp_path):
    with Simulator(SPEC, token=TOKEN) as sim:
        table = Table()
        table.sync(sim, tmp_path)
        sim.events.drop_next(1)
        lost = sorted(g for g in sim.store.subtask_gids(sim.org_workspace_gid) if depth(sim, g) == 1)[0]
        sim.store.edit_task(lost, name="its event was lost")
        sim.events.expire_tokens()
        sim.reset_request_log()
        table.sync(sim, tmp_path)
        table.assert_exact(sim)
        assert all(r.status == 412 for r in sim.requests if r.route == "GET /events")
        assert sim.request_count(route="GET /tasks/{task_gid}/subtasks") > 0
        sim.reset_request_log()
        table.sync(sim, tmp_path)                                 # the fresh tokens are good
        assert all(r.status == 200 for r in sim.requests if r.route == "GET /events")
        assert sim.request_count(route="GET /tasks/{task_gid}/subtasks") == 0


def test_a_task_that_lost_its_last_subtask_loses_it_from_the_table(tmp_path):
    """Nothing else to list: its count fell to 0, so no listing finds it
    gone; the subtask is looked up all the same. With the event lost, and
    with the project's sync token refused (412: its subtrees walked)."""
    spec = WorkspaceSpec(projects=2, tasks_per_project=4, subtask_fraction=0.0, stories_per_task=(0, 0), seed=3)
    with Simulator(spec, token=TOKEN) as sim:
        store, ws = sim.store, sim.org_workspace_gid
        projects = store.gids("projects", ws)
        parents = [store.gids("tasks", project_gid=p)[0] for p in projects]
        only = [store.add_subtask(parent, name="the only one") for parent in parents]
        table = Table()
        table.sync(sim, tmp_path)
        assert set(table.rows) == set(only)
        sim.events.drop_next(2)
        store.delete_task(only[0])
        store.set_parent(only[1], None)     # un-nested: a task in no project
        table.sync(sim, tmp_path)
        assert table.rows == {}
        again = store.add_subtask(parents[0], name="the only one again")
        table.sync(sim, tmp_path)
        sim.events.expire_tokens(resource=projects[0])
        store.delete_task(again)
        sim.reset_request_log()
        table.sync(sim, tmp_path)
        assert table.rows == {}
        assert sorted((r.query["resource"], r.status) for r in sim.requests if r.route == "GET /events") \
            == sorted([(projects[0], 412), (projects[1], 200)])


def test_a_change_after_the_tasks_stream_looked_a_subtask_up_is_not_lost(tmp_path):
    """A project task nested under a subtask (in both tables) leaves its last
    project: the tasks stream looks it up; it is renamed after that, before
    the subtasks stream reads the events (which then start after the
    rename): the subtasks stream must ask Asana again."""
    with Simulator(SPEC, token=TOKEN) as sim:
        store, ws = sim.store, sim.org_workspace_gid
        under = sorted(g for g in store.subtask_gids(ws) if depth(sim, g) == 1)[0]
        nested = next(g for p in store.gids("projects", ws) for g in store.gids("tasks", project_gid=p)
                      if len(store.record("tasks", g)["projects"]) == 1 and not store.record("tasks", g)["num_subtasks"]
                      and g != store.record("tasks", under)["parent"]["gid"])
        store.set_parent(nested, under)
        table = Table()
        table.sync(sim, tmp_path, streams=["tasks", "subtasks"])
        store.remove_task_from_project(nested, store.record("tasks", nested)["projects"][0]["gid"])
        sim.before_request("/events", lambda: store.edit_task(nested, name="renamed between the streams"))
        sim.reset_request_log()
        table.sync(sim, tmp_path, streams=["tasks", "subtasks"])
        assert table.rows[nested]["name"] == "renamed between the streams"
        table.assert_exact(sim)
        assert [r.api_path for r in sim.requests if r.route == "GET /tasks/{task_gid}"] == [f"/tasks/{nested}"] * 2


def test_a_project_with_more_events_than_a_run_reads_is_walked_instead(tmp_path):
    """Past 50 pages of events (5,000) a project is walked as after a 412,
    and continues from a fresh token: the run neither fails nor holds them."""
    with Simulator(SPEC, token=TOKEN) as sim:
        store, ws = sim.store, sim.org_workspace_gid
        table = Table()
        table.sync(sim, tmp_path)
        busy = store.gids("projects", ws)[0]
        edited = next(g for g in sorted(store.subtask_gids(ws)) if depth(sim, g) == 1 and [
            p["gid"] for p in store.record("tasks", store.record("tasks", g)["parent"]["gid"])["projects"]] == [busy])
        store.edit_task(edited, name="edited in a busy hour")
        for i in range(50 * 100):
            store.set_project_archived(busy, i % 2 == 0)
        sim.reset_request_log()
        run = table.sync(sim, tmp_path)
        table.assert_exact(sim)
        calls = Counter((r.query["resource"], r.status) for r in sim.requests if r.route == "GET /events")
        assert calls == Counter({(busy, 200): 50, (busy, 412): 1,
                                 **{(p, 200): 1 for p in store.gids("projects", ws) if p != busy}})
        assert "more than 5000 events" in run.stderr
        walked = {r.api_path.split("/")[-2] for r in sim.requests if r.route == "GET /tasks/{task_gid}/subtasks"}
        assert {g for g in store.gids("tasks", project_gid=busy) if store.record("tasks", g)["num_subtasks"]} <= walked
        sim.reset_request_log()
        table.sync(sim, tmp_path)                                 # from the fresh token
        assert [r.status for r in sim.requests if r.route == "GET /events" and r.query["resource"] == busy] == [200]
        assert sim.request_count(route="GET /tasks/{task_gid}/subtasks") == 0


def test_lost_events_are_caught_by_the_walk_when_it_is_due(tmp_path):
    """Lost events, and a comment on a subtask (its `modified_at` moves; the
    project's events carry no story two levels down): the walk brings them."""
    with Simulator(SPEC, token=TOKEN) as sim:
        table = Table()
        table.sync(sim, tmp_path)
        subtasks = sorted(g for g in sim.store.subtask_gids(sim.org_workspace_gid)
                          if depth(sim, g) == 1 and not sim.store.record("tasks", g)["num_subtasks"])
        sim.events.drop_next(2)
        sim.store.edit_task(subtasks[0], name="lost edit")
        sim.store.edit_task(subtasks[1], completed=True)
        sim.store.add_story(subtasks[2], "a comment on a subtask")
        commented = sim.store.record("tasks", subtasks[2])["modified_at"]
        table.sync(sim, tmp_path)
        assert table.rows[subtasks[0]]["name"] != "lost edit"     # nothing said so
        table.sync(sim, tmp_path, subtasks_reconcile_hours=24)    # walked less than 24 h ago
        assert table.rows[subtasks[0]]["name"] != "lost edit"
        assert table.rows[subtasks[2]]["modified_at"] != commented
        walked = table.state["bookmarks"]["subtasks"]["walked_at"]
        for workspace in walked:
            walked[workspace] = "2020-01-01T00:00:00.000Z"        # the last walk was long ago
        sim.reset_request_log()
        run = table.sync(sim, tmp_path)
        table.assert_exact(sim)
        assert set(run.gids("subtasks")) == set(subtasks[:3])     # a walk sends only what differs
        assert all(r.status == 412 for r in sim.requests if r.route == "GET /events")   # fresh tokens


def test_without_tombstones_in_the_catalog_removals_wait(tmp_path):
    """A catalog from before tombstones: removals are kept back (a warning),
    then sent once a catalog allows them."""
    from tests.tap.support import catalog_for

    with Simulator(SPEC, token=TOKEN) as sim:
        table = Table()
        table.sync(sim, tmp_path)
        gone = sorted(g for g in sim.store.subtask_gids(sim.org_workspace_gid) if depth(sim, g) == 1)[0]
        with_it = sim.store.subtask_gids(sim.org_workspace_gid)
        sim.store.delete_task(gone)       # and every level under it
        with_it -= sim.store.subtask_gids(sim.org_workspace_gid)
        assert len(with_it) > 1
        old = catalog_for(["subtasks"])
        entry = next(e for e in old["streams"] if e["tap_stream_id"] == "subtasks")
        del entry["schema"]["properties"]["_sdc_deleted_at"]
        run = run_tap(tmp_path, base_config(sim), catalog=old, state=table.state)
        assert run.returncode == 0 and "lacks _sdc_deleted_at" in run.stderr
        assert run.records("subtasks") == []
        table.state = run.final_state
        run = table.sync(sim, tmp_path)
        assert {r["gid"] for r in run.records("subtasks") if r.get("_sdc_deleted_at")} == with_it
        table.assert_exact(sim)
