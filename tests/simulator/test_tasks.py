"""GET /tasks filter rules, modified_since semantics, listings vs mutations."""
from __future__ import annotations

import pytest

from asana_simulator.timeutil import fmt_ts, parse_ts_ms

from .conftest import message

FILTER_MSG = ("Must specify exactly one of project, tag, section, user task list, "
              "or assignee + workspace")


@pytest.mark.parametrize("params", [
    {}, {"workspace": "W"}, {"assignee": "me"}, {"project": "P", "tag": "T"},
    {"project": "P", "assignee": "me", "workspace": "W"}, {"section": "S", "project": "P"},
    {"modified_since": "2020-01-01T00:00:00Z"},
])
def test_get_tasks_needs_exactly_one_filter(api, sim, params):
    subst = {"W": sim.org_workspace_gid, "P": sim.store.gids("projects")[0],
             "T": sim.store.gids("tags")[0], "S": sim.store.gids("sections")[0]}
    r = api.get("/tasks", **{k: subst.get(v, v) for k, v in params.items()})
    assert r.status_code == 400 and message(r) == FILTER_MSG


def test_each_filter_kind(api, sim):
    store = sim.store
    ws = sim.org_workspace_gid
    p = store.gids("projects", ws)[0]
    in_p = store.gids("tasks", project_gid=p)
    assert [t["gid"] for t in api.all_pages("/tasks", project=p)] == in_p
    sec = store.records("sections", project_gid=p)[0]["gid"]
    by_sec = {t["gid"] for t in api.all_pages("/tasks", section=sec)}
    assert by_sec == {t["gid"] for t in store.tasks_in_project(p)
                      if any(m["section"]["gid"] == sec for m in t["memberships"])}
    tag_gid = next(t["tags"][0]["gid"] for t in store.records("tasks", ws) if t["tags"])
    by_tag = {t["gid"] for t in api.all_pages("/tasks", tag=tag_gid)}
    assert by_tag == {t["gid"] for t in store.records("tasks", ws)
                      if tag_gid in [x["gid"] for x in t["tags"]]}
    me = store.viewer.gid
    mine = {t["gid"] for t in api.all_pages("/tasks", assignee="me", workspace=ws)}
    assert mine == {t["gid"] for t in store.records("tasks", ws)
                    if t["assignee"] and t["assignee"]["gid"] == me}
    assert mine == {t["gid"] for t in api.all_pages("/tasks", assignee=me, workspace=ws)}


def _tasks_since(api, project, since):
    return {t["gid"]: t for t in api.all_pages("/tasks", project=project, modified_since=since,
                                               opt_fields="modified_at")}


def test_modified_since_is_inclusive_and_accepts_iso_variants(api, sim):
    p = sim.store.gids("projects", sim.org_workspace_gid)[1]
    recs = sim.store.tasks_in_project(p)
    pivot = sorted(t["modified_at"] for t in recs)[len(recs) // 2]
    expected = {t["gid"] for t in recs if t["modified_at"] >= pivot}
    ms = parse_ts_ms(pivot)
    variants = [pivot, pivot.replace("Z", "+00:00"),
                pivot[:-1] + "000Z",                          # microseconds
                fmt_ts(ms + 2 * 3600_000)[:-1] + "+02:00"]    # same instant, other offset
    for v in variants:
        assert set(_tasks_since(api, p, v)) == expected, v
    later = fmt_ts(ms + 1)
    assert set(_tasks_since(api, p, later)) == {t["gid"] for t in recs
                                                  if t["modified_at"] > pivot}


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01",
                                 "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", ""])
def test_malformed_modified_since_is_400(api, sim, bad):
    p = sim.store.gids("projects")[0]
    r = api.get("/tasks", project=p, modified_since=bad)
    assert r.status_code == 400 and message(r).startswith("modified_since:")


def test_projects_tasks_ignores_modified_since(api, sim):
    p = sim.store.gids("projects", sim.org_workspace_gid)[0]
    everything = [t["gid"] for t in api.all_pages(f"/projects/{p}/tasks")]
    future = [t["gid"] for t in api.all_pages(f"/projects/{p}/tasks",
                                               modified_since="2999-01-01T00:00:00Z")]
    assert future == everything == sim.store.gids("tasks", project_gid=p)
    assert "modified_since" in sim.requests[-1].ignored_params
    assert _tasks_since(api, p, "2999-01-01T00:00:00Z") == {}


def test_listing_order_is_stable_and_not_by_modified_at(api, sim):
    p = sim.store.gids("projects", sim.org_workspace_gid)[0]
    a = api.all_pages(f"/projects/{p}/tasks", opt_fields="modified_at")
    b = api.all_pages(f"/projects/{p}/tasks", opt_fields="modified_at", limit=5)
    assert a == b
    mods = [t["modified_at"] for t in a]
    assert mods != sorted(mods) and mods != sorted(mods, reverse=True)


def test_multi_homed_and_subtasks(api, sim):
    store = sim.store
    ws = sim.org_workspace_gid
    all_tasks = store.records("tasks", ws)
    multi = [t for t in all_tasks if len(t["projects"]) > 1]
    subtasks = [t for t in all_tasks if t["parent"]]
    assert multi and subtasks
    for t in multi:
        for p in t["projects"]:
            assert t["gid"] in {x["gid"] for x in api.all_pages("/tasks", project=p["gid"])}
    listed = {t["gid"] for p in store.gids("projects", ws)
              for t in api.all_pages(f"/projects/{p}/tasks")}
    for t in subtasks:
        assert t["projects"] == [] and t["memberships"] == []
        assert t["gid"] not in listed
        assert store.record("tasks", t["parent"]["gid"]) is not None


def test_completed_since(api, sim):
    p = sim.store.gids("projects", sim.org_workspace_gid)[0]
    recs = sim.store.tasks_in_project(p)
    incomplete = {t["gid"] for t in recs if not t["completed"]}
    assert {t["gid"] for t in api.all_pages("/tasks", project=p,
                                            completed_since="now")} == incomplete
    assert {t["gid"] for t in api.all_pages(f"/projects/{p}/tasks",
                                            completed_since="now")} == incomplete
    assert {t["gid"] for t in api.all_pages("/tasks", project=p,
                                            completed_since="2000-01-01T00:00:00Z")} == \
        {t["gid"] for t in recs}


# --- mutations -------------------------------------------------------------------

def test_edit_bumps_modified_at_and_matches_since(fresh):
    sim, api = fresh
    p = sim.store.gids("projects", sim.org_workspace_gid)[0]
    victim = sim.store.gids("tasks", project_gid=p)[0]
    since = fmt_ts(sim.store.now_ms())
    assert victim not in _tasks_since(api, p, since)
    sim.store.edit_task(victim, name="renamed ✏️", completed=True)
    got = _tasks_since(api, p, since)
    assert set(got) == {victim} and got[victim]["modified_at"] > since
    rec = sim.store.record("tasks", victim)
    assert rec["name"] == "renamed ✏️" and rec["completed"] and rec["completed_at"]


def test_story_bumps_modified_at(fresh):
    sim, api = fresh
    p = sim.store.gids("projects", sim.org_workspace_gid)[1]
    t = sim.store.gids("tasks", project_gid=p)[2]
    since = fmt_ts(sim.store.now_ms())
    story = sim.store.add_story(t, "new comment 💬")
    assert set(_tasks_since(api, p, since)) == {t}
    stories = api.all_pages(f"/tasks/{t}/stories", opt_fields="created_at,text")
    assert stories[-1] == {"gid": story, "created_at": stories[-1]["created_at"],
                           "text": "new comment 💬"}
    assert stories[-1]["created_at"] == sim.store.record("tasks", t)["modified_at"]


def test_adding_to_project_matches_since_without_moving_modified_at(fresh):
    sim, api = fresh
    p1, p2 = sim.store.gids("projects", sim.org_workspace_gid)[:2]
    t = next(g for g in sim.store.gids("tasks", project_gid=p1)
             if g not in sim.store.gids("tasks", project_gid=p2))
    before = sim.store.record("tasks", t)["modified_at"]
    since = fmt_ts(sim.store.now_ms())
    sim.store.add_task_to_project(t, p2)
    got = _tasks_since(api, p2, since)
    assert set(got) == {t} and got[t]["modified_at"] == before < since
    assert t in {x["gid"] for x in api.all_pages(f"/projects/{p1}/tasks")}
    # move: leaves p1, still matches since in its new project
    since2 = fmt_ts(sim.store.now_ms())
    p3 = sim.store.gids("projects", sim.org_workspace_gid)[2]
    sim.store.move_task(t, p3)
    assert t not in {x["gid"] for x in api.all_pages(f"/projects/{p1}/tasks")}
    assert set(_tasks_since(api, p3, since2)) == {t}
    assert sim.store.record("tasks", t)["modified_at"] == before


def test_add_and_delete_task(fresh):
    sim, api = fresh
    p = sim.store.gids("projects", sim.org_workspace_gid)[0]
    since = fmt_ts(sim.store.now_ms())
    new = sim.store.add_task(p, name="brand new", notes="line 1\nline 2")
    got = api.all_pages("/tasks", project=p, modified_since=since, opt_fields="name,notes,created_at,modified_at")
    assert [t["gid"] for t in got] == [new]
    assert got[0]["created_at"] == got[0]["modified_at"]
    sim.store.delete_task(new)
    assert new not in {t["gid"] for t in api.all_pages(f"/projects/{p}/tasks")}
    r = api.get(f"/tasks/{new}/stories")
    assert r.status_code == 404 and message(r) == f"task: Not a recognized ID: {new}"


def test_get_one_task_renders_it_live_and_404s_once_deleted(fresh):
    sim, api = fresh
    p, q = sim.store.gids("projects", sim.org_workspace_gid)[:2]
    t = sim.store.tasks_in_project(p)[0]["gid"]
    body = api.ok(f"/tasks/{t}", opt_fields="name,projects.name,memberships.section.name")
    assert body["data"]["gid"] == t and "next_page" not in body
    assert {"name", "projects", "memberships"} <= set(body["data"])
    sim.store.rename("projects", p, "Renamed while you looked")
    assert "Renamed while you looked" in {x["name"] for x in api.ok(
        f"/tasks/{t}", opt_fields="projects.name")["data"]["projects"]}
    sim.store.move_task(t, q)
    assert [x["gid"] for x in api.ok(f"/tasks/{t}", opt_fields="projects")["data"]["projects"]] == [q]
    sim.store.delete_task(t)
    r = api.get(f"/tasks/{t}")
    assert r.status_code == 404 and message(r) == f"task: Not a recognized ID: {t}"


def test_deleting_a_task_deletes_its_subtasks_at_every_level(fresh):
    sim, api = fresh
    store = sim.store
    parents = {t.parent for t in store.tasks if t.parent is not None and t.parent.parent is None
               and any(c.children for c in t.parent.children)}
    if not parents:
        parent = next(t.parent for t in store.tasks if t.parent is not None)
    else:
        parent = sorted(parents, key=lambda t: t.gid)[0]
    below, pending = [], list(parent.children)
    while pending:
        t = pending.pop()
        below.append(t.gid)
        pending.extend(t.children)
    assert below
    store.delete_task(parent.gid)
    for gid in [parent.gid, *below]:
        assert api.get(f"/tasks/{gid}").status_code == 404
        assert api.get(f"/tasks/{gid}/stories").status_code == 404


def test_delete_user_project_and_rename(fresh):
    sim, api = fresh
    store = sim.store
    u = store.gids("users")[3]
    store.delete_user(u)
    assert u not in {x["gid"] for x in api.all_pages("/users")}
    p = store.gids("projects", sim.org_workspace_gid)[0]
    store.rename("projects", p, "Renamed project")
    assert api.ok(f"/workspaces/{sim.org_workspace_gid}/projects", opt_fields="name")[
        "data"][0]["name"] == "Renamed project"
    only_here = [t for t in store.tasks_in_project(p) if len(t["projects"]) == 1]
    store.delete_project(p)
    assert p not in {x["gid"] for x in api.all_pages(
        f"/workspaces/{sim.org_workspace_gid}/projects")}
    assert api.get("/tasks", project=p).status_code == 404
    assert all(store.record("tasks", t["gid"]) is None for t in only_here)
