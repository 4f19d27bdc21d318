"""tasks: one bookmark, exactly the changed tasks next time, no race."""

from __future__ import annotations

import threading
import time

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.tap.support import TOKEN, base_config, bookmark, catalog_for, run_tap


@pytest.fixture
def fresh_sim():
    simulator = Simulator(WorkspaceSpec(projects=3, tasks_per_project=6, seed=23), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


def project_gids(sim) -> list[str]:
    return [p["gid"] for p in sim.store.records("projects", workspace_gid=sim.org_workspace_gid)]


def tasks_of(sim, project_gid: str) -> list[str]:
    return [t["gid"] for t in sim.store.tasks_in_project(project_gid)]


def test_second_run_emits_exactly_the_changed_tasks(fresh_sim, tmp_path):
    sim = fresh_sim
    first = run_tap(tmp_path, base_config(sim), streams=["tasks"])
    assert first.returncode == 0, first.stderr[-2000:]
    state = first.final_state
    mark = bookmark(state)
    assert mark and list(state["bookmarks"]) == ["tasks"]
    assert "partitions" not in state["bookmarks"]["tasks"]  # one bookmark, not per project

    time.sleep(1.1)  # let Asana's clock (1 s Date resolution) pass the bookmark
    p1, p2, p3 = project_gids(sim)[:3]
    edited = tasks_of(sim, p1)[0]
    sim.store.edit_task(edited, name="renamed in Asana")
    commented = tasks_of(sim, p2)[1]
    sim.store.add_story(commented, "a new comment bumps modified_at")
    added = sim.store.add_task(p3, name="brand new task")
    moved = tasks_of(sim, p3)[0]
    before_move = sim.store.record("tasks", moved)["modified_at"]
    sim.store.add_task_to_project(moved, p1)
    assert sim.store.record("tasks", moved)["modified_at"] == before_move

    second = run_tap(tmp_path, base_config(sim), streams=["tasks"], state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    emitted = second.gids("tasks")
    assert len(emitted) == len(set(emitted))
    boundary = {
        t["gid"]
        for t in sim.store.records("tasks", workspace_gid=sim.org_workspace_gid)
        if t["modified_at"] == mark  # modified_since is inclusive
    }
    assert set(emitted) - boundary == {edited, commented, added, moved}
    by_gid = {r["gid"]: r for r in second.records("tasks")}
    assert by_gid[edited]["name"] == "renamed in Asana"
    # the moved task is older than the bookmark but must not be dropped
    assert by_gid[moved]["modified_at"] < bookmark(second.final_state)
    assert {p["gid"] for p in by_gid[moved]["projects"]} >= {p1, p3}
    assert bookmark(second.final_state) >= mark


def test_start_date_limits_the_first_run(fresh_sim, tmp_path):
    sim = fresh_sim
    tasks = [t for t in sim.store.records("tasks", workspace_gid=sim.org_workspace_gid) if t["projects"]]
    cut = sorted(t["modified_at"] for t in tasks)[len(tasks) // 2]
    run = run_tap(tmp_path, base_config(sim, start_date=cut), streams=["tasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.gids("tasks")) == {t["gid"] for t in tasks if t["modified_at"] >= cut}
    sent = {r.query.get("modified_since") for r in sim.requests if r.path == "/api/1.0/tasks"}
    assert sent == {cut}


@pytest.mark.parametrize(
    ("start_date", "sent"),
    [
        ("0001-01-01", "0001-01-01T00:00:00.000Z"),
        ("0999-12-31T23:00:00-02:00", "1000-01-01T01:00:00.000Z"),
        ("2020-05-06T07:08:09.123456Z", "2020-05-06T07:08:09.123Z"),
    ],
)
def test_start_date_is_sent_in_asana_s_format(fresh_sim, tmp_path, start_date, sent):
    sim = fresh_sim
    run = run_tap(tmp_path, base_config(sim, start_date=start_date), streams=["tasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert {r.query.get("modified_since") for r in sim.requests if r.path == "/api/1.0/tasks"} == {sent}
    assert sim.request_count(status=400) == 0


def test_change_in_a_finished_project_during_the_run_is_not_missed(tmp_path):
    """The race a max-modified_at bookmark has: project 1 is done, a task in it
    changes, later projects carry newer timestamps. The next run must see it."""
    spec = WorkspaceSpec(projects=4, tasks_per_project=5, seed=31)
    with Simulator(spec, token=TOKEN, latency_ms=150) as sim:
        first_project, *_, last_project = project_gids(sim)
        victim = tasks_of(sim, first_project)[0]
        done = threading.Event()

        def change_mid_run():
            # once the last project's listing starts, the first is finished
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(r.query.get("project") == last_project for r in sim.requests):
                    time.sleep(0.05)
                    sim.store.edit_task(victim, name="changed while the run was going")
                    # a later change elsewhere pushes max(modified_at) past the edit
                    later = tasks_of(sim, last_project)[-1]
                    time.sleep(0.01)
                    sim.store.edit_task(later, name="even later change")
                    done.set()
                    return
                time.sleep(0.005)

        watcher = threading.Thread(target=change_mid_run)
        watcher.start()
        first = run_tap(tmp_path, base_config(sim, concurrency=1), streams=["tasks"])
        watcher.join()
        assert done.is_set() and first.returncode == 0, first.stderr[-2000:]
        second = run_tap(tmp_path, base_config(sim), streams=["tasks"], state=first.final_state)
        renamed = {r["gid"]: r["name"] for r in second.records("tasks")}
        assert renamed.get(victim) == "changed while the run was going"


def test_end_date_bounds_the_window(fresh_sim, tmp_path):
    sim = fresh_sim
    tasks = [t for t in sim.store.records("tasks", workspace_gid=sim.org_workspace_gid) if t["projects"]]
    stamps = sorted(t["modified_at"] for t in tasks)
    start, end = stamps[2], stamps[-3]
    run = run_tap(tmp_path, base_config(sim, start_date=start, end_date=end), streams=["tasks"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.gids("tasks")) == {t["gid"] for t in tasks if start <= t["modified_at"] <= end}


def test_incremental_stories_fetch_only_changed_tasks(fresh_sim, tmp_path):
    sim = fresh_sim
    config = base_config(sim, stories_incremental=True)
    first = run_tap(tmp_path, config, streams=["stories"])
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.final_state["bookmarks"]["stories"]["tasks_modified_since"]
    time.sleep(1.1)
    task = tasks_of(sim, project_gids(sim)[0])[2]
    story = sim.store.add_story(task, "only this task's stories are fetched again")
    sim.reset_request_log()
    second = run_tap(tmp_path, config, streams=["stories"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert story in second.gids("stories")
    fetched = {r.path.split("/")[-2] for r in sim.requests if r.path.endswith("/stories")}
    boundary = {
        t["gid"]
        for t in sim.store.records("tasks", workspace_gid=sim.org_workspace_gid)
        if t["modified_at"] == first.final_state["bookmarks"]["stories"]["tasks_modified_since"]
    }
    assert fetched - boundary == {task}


def test_an_old_catalog_without_the_tombstone_marker_gets_no_tombstones(fresh_sim, tmp_path):
    """A catalog from before tombstones would strip `_sdc_deleted_at` and make
    a tombstone an upsert of an empty row: then removals are not sent."""
    sim = fresh_sim
    catalog = catalog_for(["tasks"])
    for entry in catalog["streams"]:
        entry["schema"]["properties"].pop("_sdc_deleted_at", None)
    first = run_tap(tmp_path, base_config(sim), catalog=catalog)
    sim.store.delete_task(sorted(tasks_of(sim, project_gids(sim)[0]))[0])
    second = run_tap(tmp_path, base_config(sim), catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.records("tasks") == []
    assert "lacks _sdc_deleted_at" in second.stderr


def test_a_changed_task_stays_when_projects_is_deselected(fresh_sim, tmp_path):
    """The lookup that decides whether a task is gone asks for `projects`
    even when the catalog deselects it."""
    sim = fresh_sim
    catalog = catalog_for(["tasks"])
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "tasks":
            entry["metadata"].append({"breadcrumb": ["properties", "projects"],
                                      "metadata": {"selected": False}})
    first = run_tap(tmp_path, base_config(sim), catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    edited = tasks_of(sim, project_gids(sim)[0])[0]
    sim.store.edit_task(edited, name="edited once")
    second = run_tap(tmp_path, base_config(sim), catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    (record,) = second.records("tasks")
    assert record["gid"] == edited and record["name"] == "edited once"
    assert "projects" not in record and not record.get("_sdc_deleted_at")


def test_a_task_the_token_may_no_longer_see_is_removed_not_fatal(fresh_sim, tmp_path):
    sim = fresh_sim
    first = run_tap(tmp_path, base_config(sim), streams=["tasks"])
    gone = tasks_of(sim, project_gids(sim)[0])[0]
    for project in sim.store.record("tasks", gone)["projects"]:
        sim.store.remove_task_from_project(gone, project["gid"])
    sim.faults.forbidden(f"/tasks/{gone}")
    second = run_tap(tmp_path, base_config(sim), streams=["tasks"], state=first.final_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert [(r["gid"], bool(r.get("_sdc_deleted_at"))) for r in second.records("tasks")] == [(gone, True)]


def test_a_bookmark_without_a_snapshot_lists_everything_once(fresh_sim, tmp_path):
    """A state written before snapshots: the next run lists every task, so the
    snapshot covers every row the table may hold and later removals are seen."""
    sim = fresh_sim
    first = run_tap(tmp_path, base_config(sim), streams=["tasks"])
    old_state = first.final_state
    old_state["bookmarks"]["tasks"].pop("snapshot")
    second = run_tap(tmp_path, base_config(sim), streams=["tasks"], state=old_state)
    assert sorted(second.gids("tasks")) == sorted(first.gids("tasks"))
    victim = sorted(first.gids("tasks"))[0]
    sim.store.delete_task(victim)
    third = run_tap(tmp_path, base_config(sim), streams=["tasks"], state=second.final_state)
    assert victim in {r["gid"] for r in third.records("tasks") if r.get("_sdc_deleted_at")}
