"""opt_fields: exact keys, nested compact vs sub-fields, strict validation,
compact defaults, opt-in and conditional fields."""
from __future__ import annotations

import json
from importlib import resources

import pytest

from .conftest import message

TASK_COMPACT = {"gid", "resource_type", "name", "resource_subtype"}
NAMED_COMPACT = {"gid", "resource_type", "name"}


def endpoint_enum(route):
    spec = json.loads(resources.files("asana_simulator").joinpath("spec", "endpoints.json")
                      .read_text())
    return spec[route]["opt_fields"]


@pytest.fixture(scope="module")
def project(sim):
    return sim.store.gids("projects", sim.org_workspace_gid)[0]


@pytest.fixture(scope="module")
def tasks(api, sim):
    fields = ",".join(f for f in endpoint_enum("GET /tasks") if f not in ("offset", "path", "uri"))
    return [t for p in sim.store.gids("projects", sim.org_workspace_gid)
            for t in api.all_pages("/tasks", project=p, opt_fields=fields)]


def test_exactly_the_named_fields_plus_gid(api, project):
    data = api.ok("/tasks", project=project, opt_fields="name,notes,modified_at")["data"]
    assert data and all(set(t) == {"gid", "name", "notes", "modified_at"} for t in data)
    data = api.ok("/tasks", project=project, opt_fields="resource_type")["data"]
    assert all(set(t) == {"gid", "resource_type"} for t in data)


def test_bare_nested_field_is_compact(api, project):
    data = api.ok("/tasks", project=project, opt_fields="assignee,projects,workspace,created_by")[
        "data"]
    for t in data:
        assert t["assignee"] is None or set(t["assignee"]) == NAMED_COMPACT
        assert all(set(p) == NAMED_COMPACT for p in t["projects"])
        assert t["workspace"]["resource_type"] == "workspace"
        # created_by is a bare resource reference in Asana
        assert set(t["created_by"]) == {"gid", "resource_type"}


def test_dotted_sub_fields_give_gid_plus_those_fields(api, project):
    data = api.ok("/tasks", project=project,
                  opt_fields="assignee.name,projects.name,memberships.section.name,"
                             "custom_fields.display_value")["data"]
    assert any(t["assignee"] for t in data)
    for t in data:
        assert set(t) == {"gid", "assignee", "projects", "memberships", "custom_fields"}
        assert t["assignee"] is None or set(t["assignee"]) == {"gid", "name"}
        assert all(set(p) == {"gid", "name"} for p in t["projects"])
        assert all(set(m) == {"section"} and set(m["section"]) == {"gid", "name"}
                   for m in t["memberships"])
        assert all(set(c) == {"gid", "display_value"} for c in t["custom_fields"])


def test_bare_and_dotted_together_union(api, project):
    data = api.ok("/tasks", project=project, opt_fields="memberships,memberships.project.name")[
        "data"]
    m = data[0]["memberships"][0]
    assert set(m) == {"project", "section"}
    assert set(m["project"]) == NAMED_COMPACT and set(m["section"]) == NAMED_COMPACT


@pytest.mark.parametrize("path,fields", [
    ("/tasks?project={p}", "project"),                 # not a task field
    ("/tasks?project={p}", "name,bogus"),
    ("/tasks?project={p}", "assignee.email"),          # not in the endpoint enum
    ("/tasks?project={p}", "name,"),                   # empty element
    ("/tasks?project={p}", "this.name"),               # legacy syntax
    ("/tasks/{t}/stories", "preview"),
    ("/workspaces", "is_organisation"),
])
def test_unknown_opt_fields_are_400(api, sim, project, path, fields):
    task = sim.store.gids("tasks", project_gid=project)[0]
    url = path.format(p=project, t=task)
    r = api.s.get(sim.api_url + url, params={"opt_fields": fields}, timeout=10)
    assert r.status_code == 400, r.text
    assert message(r).startswith("opt_fields:")


def test_every_enum_value_is_accepted_and_pagination_artefacts_ignored(api, sim, project):
    for route, path in [("GET /tasks", f"/tasks?project={project}"),
                        ("GET /workspaces/{workspace_gid}/projects",
                         f"/workspaces/{sim.org_workspace_gid}/projects"),
                        ("GET /users", "/users"),
                        ("GET /workspaces/{workspace_gid}/teams",
                         f"/workspaces/{sim.org_workspace_gid}/teams")]:
        enum = endpoint_enum(route)
        r = api.s.get(sim.api_url + path, params={"opt_fields": ",".join(enum), "limit": 5},
                      timeout=10)
        assert r.status_code == 200, (route, r.text[:300])
        assert not {"offset", "path", "uri"} & set(r.json()["data"][0])


def test_compact_records_without_opt_fields(api, sim, project):
    ws = sim.org_workspace_gid
    for t in api.ok("/tasks", project=project)["data"]:
        assert set(t) == TASK_COMPACT
    for path in (f"/workspaces/{ws}/projects", f"/projects/{project}/sections",
                 f"/workspaces/{ws}/tags", f"/workspaces/{ws}/teams", "/users", "/workspaces"):
        for rec in api.ok(path)["data"]:
            assert set(rec) == NAMED_COMPACT, path
    task = sim.store.gids("tasks", project_gid=project)[0]
    for st in api.ok(f"/tasks/{task}/stories")["data"]:
        assert set(st) == {"gid", "resource_type", "created_at", "created_by",
                           "resource_subtype", "text"}
        assert set(st["created_by"]) == NAMED_COMPACT


def test_single_workspace_is_full_record(api, sim):
    w = api.ok(f"/workspaces/{sim.org_workspace_gid}")["data"]
    assert w == {"gid": sim.org_workspace_gid, "resource_type": "workspace",
                 "name": w["name"], "email_domains": w["email_domains"], "is_organization": True}
    w = api.ok(f"/workspaces/{sim.personal_workspace_gid}", opt_fields="is_organization")["data"]
    assert w == {"gid": sim.personal_workspace_gid, "is_organization": False}


def test_opt_in_fields_only_when_named(api, project, tasks):
    plain = api.ok("/tasks", project=project, opt_fields="name,notes")["data"]
    assert all("html_notes" not in t and "num_subtasks" not in t for t in plain)
    assert all("html_notes" in t and "num_subtasks" in t and "created_by" in t for t in tasks)


def test_conditional_fields_absent_when_not_applicable(tasks, sim):
    approval = [t for t in tasks if t["resource_subtype"] == "approval"]
    others = [t for t in tasks if t["resource_subtype"] != "approval"]
    assert approval and others
    assert all("approval_status" in t for t in approval)
    assert all("approval_status" not in t for t in others)
    typed = {"text": "text_value", "number": "number_value", "enum": "enum_value",
             "multi_enum": "multi_enum_values", "date": "date_value", "people": "people_value"}
    seen = set()
    for t in tasks:
        for cf in t["custom_fields"]:
            seen.add(cf["resource_subtype"])
            present = {v for v in typed.values() if v in cf}
            assert present == {typed[cf["resource_subtype"]]}, cf
    assert seen == set(typed)
    # assignee_section only where the token's user is the assignee
    me = sim.store.viewer.gid
    for t in tasks:
        assert ("assignee_section" in t) == bool(t["assignee"] and t["assignee"]["gid"] == me)


def test_display_value_is_consistent_with_typed_value(tasks):
    checked = 0
    for t in tasks:
        for cf in t["custom_fields"]:
            st, dv = cf["resource_subtype"], cf["display_value"]
            if st == "enum":
                assert dv == (cf["enum_value"] or {}).get("name")
            elif st == "multi_enum":
                assert dv == (", ".join(o["name"] for o in cf["multi_enum_values"]) or None)
            elif st == "number" and cf["number_value"] is not None:
                assert float(dv) == pytest.approx(cf["number_value"])
            elif st == "text":
                assert dv == cf["text_value"]
            elif st == "date":
                assert dv == (cf["date_value"] or {}).get("date")
            elif st == "people":
                assert dv == (", ".join(u["name"] for u in cf["people_value"]) or None)
            checked += 1
    assert checked > 50


def test_story_conditional_fields(api, sim, project):
    tasks = sim.store.gids("tasks", project_gid=project)
    enum = [f for f in endpoint_enum("GET /tasks/{task_gid}/stories")
            if f not in ("offset", "path", "uri")]
    for gid in tasks[:6]:
        for st in api.all_pages(f"/tasks/{gid}/stories", opt_fields=",".join(enum)):
            assert st["target"]["gid"] == gid
            is_comment = st["resource_subtype"] == "comment_added"
            assert ("is_edited" in st) == is_comment and ("likes" in st) == is_comment
            assert st["type"] == ("comment" if is_comment else "system")
            if st["resource_subtype"] == "assigned":
                assert "assignee" in st
            else:
                assert "assignee" not in st
