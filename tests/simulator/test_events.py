"""GET /events: sync tokens, 412s, pages of 100, what each stream carries,
lost events, and the quota."""
from __future__ import annotations

import pytest
import requests

from asana_simulator import Simulator, WorkspaceSpec

from .conftest import TOKEN, Api, message


@pytest.fixture
def world():
    with Simulator(WorkspaceSpec(projects=2, tasks_per_project=4, users=6, seed=8), token=TOKEN) as sim:
        store = sim.store
        project = store.gids("projects", sim.org_workspace_gid)[0]
        top = store.gids("tasks", project_gid=project)[0]
        child = store.add_subtask(top, name="child")
        grandchild = store.add_subtask(child, name="grandchild")
        yield sim, Api(sim), {"project": project, "top": top, "child": child, "grandchild": grandchild}


def token_for(api, resource) -> str:
    r = api.get("/events", resource=resource)
    assert r.status_code == 412, r.text
    return r.json()["sync"]


def read(api, resource, token) -> tuple[list[dict], str]:
    """Every event after token (following has_more), and the next token."""
    events = []
    while True:
        body = api.ok("/events", resource=resource, sync=token)
        events += body["data"]
        token = body["sync"]
        if not body["has_more"]:
            return events, token


def named(events) -> list[tuple[str, str]]:
    return [(e["action"], e["resource"]["gid"]) for e in events]


def test_the_first_call_and_bad_tokens_answer_412_with_a_fresh_token(world):
    sim, api, w = world
    r = api.get("/events", resource=w["project"])
    assert r.status_code == 412
    assert message(r).startswith("Sync token invalid or too old.") and r.json()["sync"]
    fresh = r.json()["sync"]
    assert api.ok("/events", resource=w["project"], sync=fresh)["data"] == []
    for bad in (fresh + "x", "garbage", token_for(api, w["top"])):     # tampered, invented, another resource's
        r = api.get("/events", resource=w["project"], sync=bad)
        # A fresh token of its own (two fresh ones taken in the same
        # millisecond may be equal), and one that works.
        assert r.status_code == 412 and r.json()["sync"] != bad
        assert api.ok("/events", resource=w["project"], sync=r.json()["sync"])["data"] == []


def test_tokens_expire_after_their_lifetime_or_on_demand(world):
    sim, api, w = world
    token = token_for(api, w["project"])
    sim.events.expire_tokens()
    assert api.get("/events", resource=w["project"], sync=token).status_code == 412
    token = token_for(api, w["project"])
    sim.events.configure(token_ttl_s=0)
    assert api.get("/events", resource=w["project"], sync=token).status_code == 412
    sim.events.configure(token_ttl_s=86400)
    r = requests.post(sim.control_url + "/events/expire", timeout=10)
    assert r.status_code == 200
    tokens = {k: token_for(api, w[k]) for k in ("project", "top")}
    r = requests.post(sim.control_url + "/events/expire", json={"resource": w["project"]}, timeout=10)
    assert r.status_code == 200                                            # that resource's tokens only
    assert api.get("/events", resource=w["project"], sync=tokens["project"]).status_code == 412
    assert api.get("/events", resource=w["top"], sync=tokens["top"]).status_code == 200
    token = token_for(api, w["project"])
    sim.events.expire_tokens(resource=w["top"])
    assert api.get("/events", resource=w["project"], sync=token).status_code == 200
    assert api.get("/events", resource=w["top"], sync=tokens["top"]).status_code == 412


def test_events_after_the_token_in_pages_of_100(world):
    sim, api, w = world
    token = token_for(api, w["project"])
    for i in range(130):
        sim.store.edit_task(w["top"], notes=f"n{i}")
    body = api.ok("/events", resource=w["project"], sync=token)
    assert len(body["data"]) == 100 and body["has_more"] is True
    again = api.ok("/events", resource=w["project"], sync=token)           # the same token: the same page
    assert again["data"] == body["data"]
    rest = api.ok("/events", resource=w["project"], sync=body["sync"])
    assert len(rest["data"]) == 30 and rest["has_more"] is False
    assert api.ok("/events", resource=w["project"], sync=rest["sync"])["data"] == []
    event = body["data"][0]
    assert set(event) == {"user", "created_at", "action", "resource", "parent", "type", "change"}
    assert event["action"] == "changed" and event["parent"] is None
    assert event["change"] == {"field": "notes", "action": "changed", "new_value": "n0"}
    assert event["resource"] == {"gid": w["top"], "resource_type": "task",
                                 "name": sim.store.record("tasks", w["top"])["name"]}
    assert event["user"]["gid"] == sim.store.viewer.gid
    fields = api.ok("/events", resource=w["project"], sync=token, opt_fields="action,resource")["data"][0]
    assert set(fields) == {"action", "resource"}


def test_a_project_stream_carries_its_tasks_their_stories_and_subtasks(world):
    """...one level down by default: a sub-subtask's event is on its parent's
    stream, not the project's, and a story on a subtask on the subtask's
    (Asana doesn't say how deep events bubble)."""
    sim, api, w = world
    store = sim.store
    tokens = {k: token_for(api, w[k]) for k in ("project", "top", "child")}
    store.edit_task(w["top"], name="top edited")
    story = store.add_story(w["top"], "a comment")
    store.edit_task(w["child"], completed=True)
    deep_story = store.add_story(w["child"], "a comment on a subtask")
    store.edit_task(w["grandchild"], name="deep edit")
    new = store.add_subtask(w["top"], name="new child")
    store.delete_task(w["grandchild"])
    project, _ = read(api, w["project"], tokens["project"])
    assert named(project) == [("changed", w["top"]), ("added", story), ("changed", w["child"]),
                              ("added", new)]
    assert project[1]["parent"]["gid"] == w["top"] and project[1]["type"] == "story"
    assert project[3]["parent"] == {"gid": w["top"], "resource_type": "task", "name": "top edited"}
    child_stream, _ = read(api, w["child"], tokens["child"])
    assert named(child_stream) == [("changed", w["child"]), ("added", deep_story), ("changed", w["grandchild"]),
                                   ("deleted", w["grandchild"])]
    top_stream, _ = read(api, w["top"], tokens["top"])
    assert ("changed", w["grandchild"]) not in named(top_stream)
    assert ("added", deep_story) not in named(top_stream)


def test_with_bubbling_on_every_level_reaches_the_project(world):
    sim, api, w = world
    sim.events.configure(bubble_all_levels=True)
    token = token_for(api, w["project"])
    sim.store.edit_task(w["grandchild"], name="deep edit")
    deeper = sim.store.add_subtask(w["grandchild"])
    story = sim.store.add_story(w["child"], "a comment on a subtask")
    events, _ = read(api, w["project"], token)
    assert named(events) == [("changed", w["grandchild"]), ("added", deeper), ("added", story)]


def test_moves_in_and_out_are_seen_where_the_task_was_and_is(world):
    sim, api, w = world
    store = sim.store
    other = store.gids("projects", sim.org_workspace_gid)[1]
    tokens = {p: token_for(api, p) for p in (w["project"], other)}
    elsewhere = store.gids("tasks", project_gid=other)[0]
    store.set_parent(w["child"], elsewhere)
    store.set_parent(w["child"], None)
    store.undelete_task(_deleted(store, w["top"]))
    here, _ = read(api, w["project"], tokens[w["project"]])
    there, _ = read(api, other, tokens[other])
    assert ("removed", w["child"]) in named(here) and here[named(here).index(("removed", w["child"]))][
        "parent"]["gid"] == w["top"]
    assert [e["action"] for e in there if e["resource"]["gid"] == w["child"]] == ["added", "removed"]
    assert [(e["action"], e["resource"]["gid"]) for e in here][-2:] == [("deleted", w["top"]),
                                                                        ("undeleted", w["top"])]


def _deleted(store, gid):
    store.delete_task(gid)
    return gid


def test_lost_events_are_never_delivered(world):
    sim, api, w = world
    token = token_for(api, w["project"])
    sim.events.drop_next(2)
    for name in ("lost 1", "lost 2", "kept"):
        sim.store.edit_task(w["top"], name=name)
    events, _ = read(api, w["project"], token)
    assert [e["change"]["new_value"] for e in events] == ["kept"]
    assert sim.events.dropped == 2
    requests.post(sim.control_url + "/events", json={"drop_rate": 1.0, "seed": 1}, timeout=10)
    sim.store.edit_task(w["top"], name="also lost")
    assert read(api, w["project"], token)[0] == events
    assert requests.get(sim.control_url + "/info", timeout=10).json()["events"]["dropped"] == 3


@pytest.mark.parametrize("resource, status", [("", 400), ("W", 400), ("404404", 404)])
def test_resource_must_be_a_task_or_project(world, resource, status):
    sim, api, w = world
    r = api.get("/events", resource=sim.org_workspace_gid if resource == "W" else resource)
    assert r.status_code == status


def test_a_deleted_task_has_no_stream_any_more(world):
    sim, api, w = world
    token = token_for(api, w["child"])
    sim.store.delete_task(w["child"])
    assert api.get("/events", resource=w["child"], sync=token).status_code == 404


def test_events_count_against_the_quota(world):
    sim, api, w = world
    sim.quota.configure(per_minute=3)
    sim.quota.reset()
    statuses = [api.get("/events", resource=w["project"]).status_code for _ in range(4)]
    assert statuses == [412, 412, 412, 429]
