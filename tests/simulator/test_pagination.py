"""limit/offset/next_page, offset expiry and tampering, unpaginated caps."""
from __future__ import annotations

import base64
import json
import time

import pytest

from asana_simulator import Simulator, WorkspaceSpec

from .conftest import TOKEN, Api, message


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", "99999"])
def test_limit_out_of_range_is_400(api, sim, limit):
    r = api.get(f"/workspaces/{sim.org_workspace_gid}/projects", limit=limit)
    assert r.status_code == 400
    assert message(r).startswith("limit:")


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_accepted(api, sim, limit):
    body = api.ok(f"/workspaces/{sim.org_workspace_gid}/tags", limit=limit)
    assert len(body["data"]) == min(limit, 6)


def test_pages_walk_the_whole_listing_in_order(api, sim):
    truth = sim.store.gids("users")
    assert len(truth) == 120
    pages, body = [], api.ok("/users", limit=7, workspace=sim.org_workspace_gid)
    pages.append(body)
    while body["next_page"] is not None:
        nxt = body["next_page"]
        assert nxt["path"].startswith("/users?") and "workspace=" in nxt["path"]
        assert "limit=7" in nxt["path"] and nxt["path"].endswith("offset=" + nxt["offset"])
        assert nxt["uri"] == sim.api_url + nxt["path"]
        # following the given path verbatim works, as Asana promises
        body = api.s.get(nxt["uri"], timeout=10).json()
        pages.append(body)
    assert [u["gid"] for p in pages for u in p["data"]] == truth
    assert all(len(p["data"]) == 7 for p in pages[:-1])
    assert pages[-1]["next_page"] is None


def test_no_empty_last_page_when_listing_divides_evenly(api, sim):
    body = api.ok(f"/workspaces/{sim.org_workspace_gid}/tags", limit=3)
    body2 = api.ok(f"/workspaces/{sim.org_workspace_gid}/tags", limit=3,
                   offset=body["next_page"]["offset"])
    assert len(body2["data"]) == 3 and body2["next_page"] is None


def test_next_page_key_only_when_limit_sent(api, sim):
    body = api.ok(f"/workspaces/{sim.org_workspace_gid}/tags")
    assert "next_page" not in body
    assert "next_page" in api.ok(f"/workspaces/{sim.org_workspace_gid}/tags", limit=100)


def test_offsets_are_opaque_signed_and_bound_to_their_listing(api, sim):
    ws = sim.org_workspace_gid
    off = api.ok("/users", limit=5)["next_page"]["offset"]
    head, payload, sig = off.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["pos"] = 0
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged}.{sig}", off[:-3] + "abc", "garbage", "eyJ.e30.x"):
        r = api.get("/users", limit=5, offset=bad)
        assert r.status_code == 400 and message(r).startswith("offset:")
    # a valid token from another listing is not accepted here
    r = api.get(f"/workspaces/{ws}/tags", limit=5, offset=off)
    assert r.status_code == 400
    r = api.get("/users", limit=5, offset=off, workspace=ws)  # other filters
    assert r.status_code == 400


def test_offset_without_limit_is_400(api, sim):
    off = api.ok("/users", limit=5)["next_page"]["offset"]
    assert api.get("/users", offset=off).status_code == 400


def test_expire_offsets_control_call(fresh):
    sim, api = fresh
    off = api.ok("/users", limit=3)["next_page"]["offset"]
    assert api.get("/users", limit=3, offset=off).status_code == 200
    sim.expire_offsets()
    r = api.get("/users", limit=3, offset=off)
    assert r.status_code == 400 and "expired" in message(r)
    # new listings work and hand out fresh, valid tokens
    off2 = api.ok("/users", limit=3)["next_page"]["offset"]
    assert api.get("/users", limit=3, offset=off2).status_code == 200


def test_offset_ttl():
    with Simulator(WorkspaceSpec(projects=1, tasks_per_project=3, users=10), token=TOKEN,
                   offset_ttl_s=0.3) as sim:
        api = Api(sim)
        off = api.ok("/users", limit=3)["next_page"]["offset"]
        assert api.get("/users", limit=3, offset=off).status_code == 200
        time.sleep(0.4)
        r = api.get("/users", limit=3, offset=off)
        assert r.status_code == 400 and "expired" in message(r)


def test_expire_offsets_after_n_requests(fresh):
    sim, api = fresh
    off = api.ok("/users", limit=3)["next_page"]["offset"]
    sim.expire_offsets_after(requests=2)
    assert api.get("/users", limit=3, offset=off).status_code == 200
    assert api.get("/users", limit=3, offset=off).status_code == 200
    assert api.get("/users", limit=3, offset=off).status_code == 400


def test_unpaginated_listing_is_truncated_at_1000():
    spec = WorkspaceSpec(projects=1, tasks_per_project=1050, users=5, stories_per_task=(0, 0),
                         subtask_fraction=0, seed=2)
    with Simulator(spec, token=TOKEN) as sim:
        api = Api(sim)
        p = sim.store.gids("projects", sim.org_workspace_gid)[0]
        body = api.ok(f"/projects/{p}/tasks")
        assert len(body["data"]) == 1000 and "next_page" not in body
        assert len(api.all_pages(f"/projects/{p}/tasks")) == 1050


def test_workspace_users_capped_at_2000_sorted_by_name_ignoring_limit():
    spec = WorkspaceSpec(projects=1, tasks_per_project=1, users=2050, stories_per_task=(0, 0))
    with Simulator(spec, token=TOKEN) as sim:
        api = Api(sim)
        ws = sim.org_workspace_gid
        body = api.ok(f"/workspaces/{ws}/users", limit=5, opt_fields="name")
        assert len(body["data"]) == 2000 and "next_page" not in body
        names = [(u["name"], u["gid"]) for u in body["data"]]
        assert names == sorted(names)
        assert len(api.all_pages("/users", workspace=ws)) == 2050
        assert sim.requests[-1].query["limit"] == "100"
