"""A full run against the simulator yields exactly Asana's data, once."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from tests.expected import TABLES, assert_same_records, expected_gids, expected_records
from tests.tap.support import SCHEMA_DIR, base_config, run_tap


@pytest.fixture(scope="module")
def full_run(sim, tmp_path_factory):
    sim.reset_request_log()
    run = run_tap(tmp_path_factory.mktemp("full"), base_config(sim))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("stream", TABLES)
def test_every_record_exactly_once(sim, full_run, stream):
    gids = full_run.gids(stream)
    duplicates = [gid for gid, n in Counter(gids).items() if n > 1]
    assert duplicates == []
    assert set(gids) == expected_gids(sim, stream)
    assert gids, f"the simulator should have {stream} to extract"


@pytest.mark.parametrize("stream", TABLES)
def test_records_valid_against_their_schema(full_run, stream):
    schema = json.loads((SCHEMA_DIR / f"{stream}.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    (message,) = full_run.schemas(stream)  # one SCHEMA per stream, not one per parent
    assert message["key_properties"] == ["gid"]
    for record in full_run.records(stream):
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, f"{stream} {record['gid']}: {errors[0].message}"


@pytest.mark.parametrize("stream", TABLES)
def test_records_carry_full_field_values(sim, full_run, stream):
    """Every record is the simulator's own, whole: every field the tap asks
    for (its opt_fields), nested objects included, as Asana renders them."""
    got = {record["gid"]: record for record in full_run.records(stream)}
    assert_same_records(got, expected_records(sim, stream), stream)


def test_tasks_carry_nested_names(full_run):
    """The names of what a task refers to come with it (sub-field opt_fields)."""
    tasks = full_run.records("tasks")
    assert tasks and any(task["assignee"] for task in tasks)
    for task in tasks:
        for membership in task["memberships"]:
            assert membership["section"]["name"]
            assert membership["project"]["name"]
        for value in task["custom_fields"]:
            assert "display_value" in value
        assert task["assignee"] is None or task["assignee"]["name"]


def test_multi_homed_task_emitted_once(sim, full_run):
    tasks = sim.store.records("tasks", workspace_gid=sim.org_workspace_gid)
    multi_homed = [t["gid"] for t in tasks if len(t["projects"]) > 1]
    assert multi_homed, "the simulated workspace should contain multi-homed tasks"
    emitted = Counter(full_run.gids("tasks"))
    assert all(emitted[gid] == 1 for gid in multi_homed)


def test_children_carry_their_parent(sim, full_run):
    for section in full_run.records("sections"):
        assert section["project_gid"] == section["project"]["gid"]
    for story in full_run.records("stories"):
        assert story["task_gid"] == story["target"]["gid"]
    in_table = set(full_run.gids("tasks")) | set(full_run.gids("subtasks"))
    for subtask in full_run.records("subtasks"):
        assert subtask["parent"]["gid"] in in_table and subtask["parent"]["name"]


def test_requests_use_full_pages_and_no_listing_twice(sim, full_run):
    requests = sim.requests
    listing = [r for r in requests if r.path.startswith("/api/1.0/")]
    assert listing
    workspace = f"/api/1.0/workspaces/{sim.org_workspace_gid}"
    # (GET /events pages with sync tokens: no limit.)
    assert all(r.query.get("limit") == "100" for r in listing if r.path not in (workspace, "/api/1.0/events"))
    project_listings = [r for r in listing if r.path.endswith("/projects") and "offset" not in r.query]
    assert len(project_listings) == 1  # sections, tasks and stories reuse it
    for children in ("/stories", "/subtasks"):   # each task's stories and subtasks once
        fetches = Counter(r.path for r in listing if r.path.endswith(children) and "offset" not in r.query)
        assert fetches and all(n == 1 for n in fetches.values()), children
    assert all("/projects/" not in r.path or not r.path.endswith("/tasks") for r in listing)


def test_teams_of_a_personal_workspace_warn_not_fail(sim, tmp_path):
    config = base_config(sim, workspace_gid=sim.personal_workspace_gid)
    run = run_tap(tmp_path, config, streams=["teams"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("teams") == []
    assert "not an organization" in run.stderr


def test_all_workspaces_when_none_configured(sim, tmp_path):
    config = base_config(sim)
    del config["workspace_gid"]
    run = run_tap(tmp_path, config, streams=["workspaces", "projects", "users"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.gids("workspaces")) == {sim.org_workspace_gid, sim.personal_workspace_gid}
    expected_projects = {
        p["gid"]
        for ws in (sim.org_workspace_gid, sim.personal_workspace_gid)
        for p in sim.store.records("projects", workspace_gid=ws)
    }
    assert set(run.gids("projects")) == expected_projects
    users = run.gids("users")
    assert len(users) == len(set(users))  # users of both workspaces, once each


def test_each_stream_asks_for_every_documented_field(sim, full_run):
    """opt_fields = the generated list (every non-deprecated field of the
    resource, nested names included), on every listing of the stream."""
    fields = json.loads((SCHEMA_DIR / "opt_fields.json").read_text())
    routes = {
        "projects": "/projects",
        "sections": "/sections",
        "tags": "/tags",
        "tasks": "/api/1.0/tasks",
        "subtasks": "/subtasks",
        "stories": "/stories",
        "teams": "/teams",
        "users": "/api/1.0/users",
    }
    for stream, suffix in routes.items():
        asked = [
            set(r.query["opt_fields"].split(","))
            for r in sim.requests
            if r.path.endswith(suffix) and set(r.query.get("opt_fields", "").split(",")) != {"gid"}
        ]
        assert asked, stream
        assert all(a == set(fields[stream]) for a in asked), stream
    assert "project" not in fields["tasks"] and "preview" not in fields["stories"]
