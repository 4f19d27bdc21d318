"""Subtasks: GET /tasks/{gid}/subtasks, num_subtasks as they come and go,
Asana's modified_at rules around them, nesting, deletion and restoring."""
from __future__ import annotations

import pytest
import requests

from asana_simulator import Simulator, WorkspaceSpec

from .conftest import TOKEN, Api, message


@pytest.fixture
def world():
    """A workspace with subtasks two levels deep, of its own."""
    with Simulator(WorkspaceSpec(projects=2, tasks_per_project=4, users=6, seed=5), token=TOKEN) as sim:
        store, api = sim.store, Api(sim)
        ws = sim.org_workspace_gid
        project = store.gids("projects", ws)[0]
        top = store.gids("tasks", project_gid=project)[0]
        child = store.add_subtask(top, name="child")
        grandchild = store.add_subtask(child, name="grandchild")
        yield sim, api, {"project": project, "top": top, "child": child, "grandchild": grandchild}


def subtask_gids(api, gid, **params):
    return [t["gid"] for t in api.all_pages(f"/tasks/{gid}/subtasks", **params)]


def modified(sim, gid):
    return sim.store.record("tasks", gid)["modified_at"]


def test_subtasks_lists_direct_subtasks_only_paginated(world):
    sim, api, w = world
    more = [sim.store.add_subtask(w["top"], name=f"s{i}") for i in range(4)]
    kids = [w["child"], *more]
    existing = [g for g in subtask_gids(api, w["top"]) if g not in kids]
    assert subtask_gids(api, w["top"]) == existing + kids          # in order, grandchild not among them
    body = api.ok(f"/tasks/{w['top']}/subtasks", limit=2, opt_fields="name,parent.name,num_subtasks")
    assert len(body["data"]) == 2 and body["next_page"]["offset"]
    assert set(body["data"][0]) == {"gid", "name", "parent", "num_subtasks"}
    assert body["data"][0]["parent"] == {"gid": w["top"], "name": sim.store.record("tasks", w["top"])["name"]}
    assert subtask_gids(api, w["top"], limit=2) == existing + kids
    assert subtask_gids(api, w["child"]) == [w["grandchild"]]
    assert subtask_gids(api, w["grandchild"]) == []
    # No time filter: modified_since is ignored, as Asana ignores unknown parameters.
    sim.reset_request_log()
    assert subtask_gids(api, w["top"], modified_since="2100-01-01T00:00:00Z") == existing + kids
    assert sim.requests[-1].ignored_params == ["modified_since"]
    r = api.get(f"/tasks/{w['top']}/subtasks", opt_fields="project")
    assert r.status_code == 400 and "Unknown field 'project'" in message(r)


def test_num_subtasks_follows_subtasks_coming_and_going(world):
    sim, api, w = world
    store = sim.store

    def count(gid):
        return api.ok(f"/tasks/{gid}", opt_fields="num_subtasks")["data"]["num_subtasks"]

    before = count(w["top"])
    extra = store.add_subtask(w["top"])
    assert count(w["top"]) == before + 1
    store.set_parent(extra, w["child"])                  # nested one level down
    assert (count(w["top"]), count(w["child"])) == (before, 2)
    store.set_parent(extra, None)                        # a task of its own again
    assert count(w["child"]) == 1
    assert store.record("tasks", extra)["parent"] is None
    store.delete_task(w["grandchild"])
    assert count(w["child"]) == 0
    listed = api.ok("/tasks", project=w["project"], opt_fields="num_subtasks")["data"]
    assert {t["gid"]: t["num_subtasks"] for t in listed}[w["top"]] == before


def test_subtask_changes_leave_the_parents_modified_at_alone(world):
    sim, api, w = world
    store = sim.store
    top, child = modified(sim, w["top"]), modified(sim, w["child"])
    store.edit_task(w["grandchild"], name="edited", completed=True)
    extra = store.add_subtask(w["child"], name="new")
    store.set_parent(extra, w["top"])
    store.delete_task(extra)
    assert (modified(sim, w["top"]), modified(sim, w["child"])) == (top, child)
    assert store.record("tasks", w["grandchild"])["name"] == "edited"


def test_nesting_is_a_move_to_a_new_container(world):
    """setParent moves a task to a new container: its modified_at stays,
    and it matches modified_since (an association change)."""
    sim, api, w = world
    project_tasks = sim.store.gids("tasks", project_gid=w["project"])
    mover = project_tasks[1]
    before = modified(sim, mover)
    since = sim.store.record("tasks", w["top"])["modified_at"]
    sim.store.set_parent(mover, w["child"])
    assert modified(sim, mover) == before
    record = api.ok(f"/tasks/{mover}", opt_fields="parent,projects")["data"]
    assert record["parent"]["gid"] == w["child"] and record["projects"]   # still in its project
    changed = {t["gid"] for t in api.all_pages("/tasks", project=w["project"],
                                               modified_since=max(since, before))}
    assert mover in changed
    assert mover in sim.store.subtask_gids(sim.org_workspace_gid)


@pytest.mark.parametrize("parent", ["self", "descendant", "other workspace"])
def test_a_task_cannot_be_nested_under_itself_its_subtasks_or_elsewhere(world, parent):
    sim, api, w = world
    target = {"self": w["top"], "descendant": w["grandchild"],
              "other workspace": sim.store.gids("tasks", sim.personal_workspace_gid)[0]}[parent]
    with pytest.raises(ValueError):
        sim.store.set_parent(w["top"], target)


def test_deleting_a_parent_deletes_every_level_and_restoring_brings_them_back(world):
    sim, api, w = world
    store = sim.store
    store.delete_task(w["top"])
    for gid in (w["top"], w["child"], w["grandchild"]):
        assert api.get(f"/tasks/{gid}").status_code == 404
        assert api.get(f"/tasks/{gid}/subtasks").status_code == 404
    assert w["child"] not in store.subtask_gids(sim.org_workspace_gid)
    with pytest.raises(ValueError, match="restore that one"):
        store.undelete_task(w["child"])
    store.undelete_task(w["top"])
    assert subtask_gids(api, w["child"]) == [w["grandchild"]]
    assert w["top"] in {t["gid"] for t in api.all_pages("/tasks", project=w["project"])}
    assert {w["child"], w["grandchild"]} <= store.subtask_gids(sim.org_workspace_gid)


def test_deleting_a_project_deletes_its_tasks_subtasks(world):
    sim, api, w = world
    sim.store.delete_project(w["project"])
    assert api.get(f"/tasks/{w['grandchild']}").status_code == 404


def test_subtask_gids_is_every_level_under_project_tasks(world):
    sim, api, w = world
    store = sim.store
    loose = store.add_subtask(w["child"], name="will be unlinked with its parent")
    want = set()
    pending = [t for p in store.gids("projects", sim.org_workspace_gid) for t in store.gids("tasks", project_gid=p)]
    while pending:
        for sub in subtask_gids(api, pending.pop()):
            if sub not in want:
                want.add(sub)
                pending.append(sub)
    assert store.subtask_gids(sim.org_workspace_gid) == want and loose in want
    for project in store.record("tasks", w["top"])["projects"]:   # its tree leaves the projects
        store.remove_task_from_project(w["top"], project["gid"])
    assert not {w["child"], loose} & store.subtask_gids(sim.org_workspace_gid)


def test_control_interface_adds_nests_unnests_and_restores(world):
    sim, api, w = world
    c = sim.control_url

    def mutate(op, **args):
        r = requests.post(c + "/mutate", json={"op": op, "args": args}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["result"]

    new = mutate("add_subtask", parent_gid=w["child"], name="via control")
    assert sim.store.record("tasks", new)["parent"]["gid"] == w["child"]
    mutate("set_parent", gid=new, parent_gid=w["top"])
    mutate("set_parent", gid=new, parent_gid=None)
    assert sim.store.record("tasks", new)["parent"] is None
    mutate("delete_task", gid=w["top"])
    mutate("undelete_task", gid=w["top"])
    got = requests.get(c + "/subtask_gids", params={"workspace_gid": sim.org_workspace_gid}, timeout=10)
    assert set(got.json()["gids"]) == sim.store.subtask_gids(sim.org_workspace_gid)
    bad = requests.post(c + "/mutate", json={"op": "set_parent", "args": {"gid": w["top"],
                                                                            "parent_gid": w["grandchild"]}},
                        timeout=10)
    assert bad.status_code == 400
