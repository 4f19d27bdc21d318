"""Generated data: deterministic, complete, consistent, and fast to build."""
from __future__ import annotations

import json
import re
import time
from importlib import resources

import pytest

from asana_simulator import Store, WorkspaceSpec
from asana_simulator.spec import RESPONSE_SCHEMA

KINDS = ["workspaces", "teams", "users", "projects", "sections", "tags", "tasks", "stories"]
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SPEC = WorkspaceSpec(projects=5, tasks_per_project=15, users=110, stories_per_task=(0, 6), seed=4)

# Conditional fields (Asana omits them when they don't apply) and fields our
# data never has a value for.
CONDITIONAL = {
    "tasks": {"approval_status", "assignee_section"},
    "stories": {"is_pinned", "sticker_name", "is_editable", "is_edited", "hearted", "hearts",
                "num_hearts", "liked", "likes", "num_likes", "previews", "story", "old_name",
                "new_name", "old_dates", "new_dates", "old_resource_subtype",
                "new_resource_subtype", "assignee", "follower", "old_section", "new_section",
                "task", "project", "tag", "custom_field", "old_text_value", "new_text_value",
                "old_number_value", "new_number_value", "old_enum_value", "new_enum_value",
                "old_date_value", "new_date_value", "old_people_value", "new_people_value",
                "old_multi_enum_values", "new_multi_enum_values", "new_approval_status",
                "old_approval_status", "duplicate_of", "duplicated_from", "dependency"},
}


def dump(store):
    return json.dumps({k: store.records(k) for k in KINDS}, ensure_ascii=False, sort_keys=True)


@pytest.fixture(scope="module")
def store():
    return Store(SPEC)


@pytest.fixture(scope="module")
def everything(store):
    return {k: store.records(k) for k in KINDS}


def test_same_seed_same_bytes_other_seed_other_data(store):
    assert dump(store) == dump(Store(SPEC))
    other = Store(WorkspaceSpec(**{**SPEC.__dict__, "seed": 5}))
    assert dump(other) != dump(store)


def test_every_schema_property_is_present(everything):
    schemas = json.loads(resources.files("asana_simulator").joinpath(
        "spec", "resources.json").read_text())["schemas"]
    for kind in KINDS:
        props = set(schemas[RESPONSE_SCHEMA[kind]]["properties"])
        recs = everything[kind]
        assert recs, kind
        for rec in recs:
            assert set(rec) <= props, (kind, set(rec) - props)
            assert props - set(rec) <= CONDITIONAL.get(kind, set()), (kind, props - set(rec))
        # each conditional field does occur somewhere (except what we never model)
        seen = set().union(*map(set, recs))
        assert props - seen <= {"previews", "story", "assignee_section"}, (kind, props - seen)


def _walk(v, out):
    if isinstance(v, dict):
        if "gid" in v:
            out.append(v)
        for x in v.values():
            _walk(x, out)
    elif isinstance(v, list):
        for x in v:
            _walk(x, out)


def test_gids_unique_and_references_real(store, everything):
    top = {}
    for kind, recs in everything.items():
        for r in recs:
            assert re.fullmatch(r"\d{16}", r["gid"]), r["gid"]
            assert r["gid"] not in top, (kind, r["gid"])
            top[r["gid"]] = r["resource_type"]
    nested = []
    for recs in everything.values():
        for r in recs:
            for v in r.values():
                _walk(v, nested)
    by_gid = {}
    for obj in nested:
        if set(obj) == {"gid", "data"}:
            continue  # task.external: gid is the integration's own id, any string
        assert re.fullmatch(r"\d{16}", obj["gid"]), obj
        rt = obj.get("resource_type")
        if rt is None:
            continue
        assert by_gid.setdefault(obj["gid"], rt) == rt, obj  # one gid, one type
        if rt in ("user", "workspace", "team", "project", "task", "tag"):
            assert top.get(obj["gid"]) == rt, obj
        elif rt == "section":
            mine = {s.gid for s in store.my_tasks_sections()}
            assert top.get(obj["gid"]) == "section" or obj["gid"] in mine


def test_formats_and_time_order(store, everything):
    now = time.time() * 1000
    for kind, recs in everything.items():
        for r in recs:
            for f in ("created_at", "modified_at", "completed_at", "due_at"):
                if r.get(f) is not None:
                    assert TS.match(r[f]), (kind, f, r[f])
            for f in ("due_on", "start_on"):
                if r.get(f) is not None:
                    assert DATE.match(r[f])
    for t in everything["tasks"]:
        assert t["created_at"] <= t["modified_at"]
        assert t["modified_at"] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000))
        if t["completed"]:
            assert t["completed_at"] and t["created_at"] <= t["completed_at"] <= t["modified_at"]
        else:
            assert t["completed_at"] is None
        for st in store.stories_of(t["gid"]):
            assert st["created_at"] <= t["modified_at"]


def test_workspace_shape(store, everything):
    org, personal = everything["workspaces"]
    assert org["is_organization"] and not personal["is_organization"]
    assert all(t["organization"]["gid"] == org["gid"] for t in everything["teams"])
    assert len(everything["users"]) == 110
    assert all({w["gid"] for w in u["workspaces"]} == {org["gid"], personal["gid"]}
               for u in everything["users"])
    org_projects = store.records("projects", org["gid"])
    assert len(org_projects) == 5 and any(p["archived"] for p in org_projects)
    assert all(p["team"] for p in org_projects)
    pers = store.records("projects", personal["gid"])
    assert len(pers) == 2 and all(p["team"] is None for p in pers)
    assert store.records("tasks", personal["gid"])


def test_variety_of_values(everything):
    tasks = everything["tasks"]
    text = " ".join(t["name"] + t["notes"] for t in tasks)
    assert re.search(r"[\U0001F300-\U0001FAFF]", text)           # emoji
    assert re.search(r"[\u4e00-\u9fff]", text)                   # CJK
    assert re.search(r"[\u0590-\u06ff]", text)                   # Hebrew / Arabic
    assert any("\n" in t["notes"] for t in tasks)
    assert any(t["assignee"] is None for t in tasks) and any(t["assignee"] for t in tasks)
    assert any(t["due_on"] is None for t in tasks) and any(t["due_at"] for t in tasks)
    assert any(t["completed"] for t in tasks) and not all(t["completed"] for t in tasks)
    assert {t["resource_subtype"] for t in tasks} >= {"default_task", "milestone", "approval"}
    assert any(len(t["projects"]) > 1 for t in tasks)
    assert any(t["parent"] for t in tasks)
    for t in tasks:
        assert all(m["project"] and m["section"] for m in t["memberships"])
        assert [m["project"] for m in t["memberships"]] == t["projects"]
    stories = everything["stories"]
    assert {s["type"] for s in stories} == {"comment", "system"}


def test_100k_tasks_generate_quickly():
    t0 = time.monotonic()
    store = Store(WorkspaceSpec(projects=500, tasks_per_project=200, users=300, seed=9))
    elapsed = time.monotonic() - t0
    assert store.counts()["tasks"] >= 100_000
    assert elapsed < 10, elapsed
    # stories are derived on demand, so reading a few is cheap too
    assert store.stories_of(store.tasks[99_999].gid) is not None
