"""Property checks: any page size walks a listing exactly; any subset of the
enum projects to exactly those top-level keys (+ gid, - non-applicable)."""
from __future__ import annotations

import json
from importlib import resources

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENUM = [f for f in json.loads(resources.files("asana_simulator").joinpath(
    "spec", "endpoints.json").read_text())["GET /tasks"]["opt_fields"]
    if f not in ("offset", "path", "uri")]
CONDITIONAL = {"approval_status", "assignee_section"}
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(limit=st.integers(1, 100))
def test_any_page_size_walks_the_listing_exactly(api, sim, limit):
    assert [u["gid"] for u in api.all_pages("/users", limit=limit)] == sim.store.gids("users")


@SETTINGS
@given(fields=st.lists(st.sampled_from(ENUM), min_size=1, max_size=12, unique=True))
def test_any_enum_subset_projects_exactly(api, sim, fields):
    p = sim.store.gids("projects", sim.org_workspace_gid)[2]
    data = api.ok("/tasks", project=p, limit=20, opt_fields=",".join(fields))["data"]
    top = {f.split(".")[0] for f in fields}
    for t in data:
        assert top - CONDITIONAL <= set(t) - {"gid"} <= top
        for f in fields:
            head, _, rest = f.partition(".")
            if rest and "." not in rest and isinstance(t.get(head), dict):
                assert rest in t[head] or rest in ("gid", "resource_type")
