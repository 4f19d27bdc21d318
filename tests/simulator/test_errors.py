"""Auth, 404s, plan-gated and organization-only endpoints, error envelope."""
from __future__ import annotations

import pytest
import requests

from .conftest import message

HELP = "https://developers.asana.com/docs/errors"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "sim-test-token"},
                                     {"Authorization": "Basic c2ltLXRlc3QtdG9rZW4="}])
def test_missing_or_wrong_token_is_401(sim, headers):
    r = requests.get(sim.api_url + "/workspaces", headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] == "Not Authorized"


@pytest.mark.parametrize("path,param", [
    ("/workspaces/123", "workspace"), ("/workspaces/123/projects", "workspace"),
    ("/projects/123/sections", "project"), ("/projects/123/tasks", "project"),
    ("/tasks/123/stories", "task"), ("/workspaces/123/teams", "workspace"),
    ("/workspaces/123/users", "workspace"), ("/workspaces/123/tags", "workspace"),
])
def test_unknown_gid_is_404(api, path, param):
    r = api.get(path)
    assert r.status_code == 404
    err = r.json()["errors"][0]
    assert err["message"] == f"{param}: Not a recognized ID: 123" and HELP in err["help"]
    assert "phrase" not in err


@pytest.mark.parametrize("params,param", [({"project": "42"}, "project"),
                                          ({"tag": "42"}, "tag"), ({"section": "42"}, "section"),
                                          ({"assignee": "42", "workspace": "W"}, "assignee")])
def test_unknown_filter_gid_is_404(api, sim, params, param):
    params = {k: sim.org_workspace_gid if v == "W" else v for k, v in params.items()}
    r = api.get("/tasks", **params)
    assert r.status_code == 404 and message(r) == f"{param}: Not a recognized ID: 42"


@pytest.mark.parametrize("path", ["/teams", "/tasks/1/attachments", "/projects", "/nope",
                                  "/workspaces/", "/"])
def test_unknown_path_is_404(api, path):
    r = api.get(path)
    assert r.status_code == 404 and message(r) == "No matching route for request"


def test_non_get_is_404(api, sim):
    r = api.s.post(sim.api_url + "/tasks", json={"data": {"name": "x"}}, timeout=10)
    assert r.status_code == 404


def test_search_is_premium_only(api, sim):
    r = api.get(f"/workspaces/{sim.org_workspace_gid}/tasks/search", text="x")
    assert r.status_code == 402
    assert message(r) == "Search is only available to premium users."


def test_teams_of_personal_workspace_is_an_error_not_an_empty_list(api, sim):
    r = api.get(f"/workspaces/{sim.personal_workspace_gid}/teams", limit=100)
    assert r.status_code == 400
    assert "Not an organization" in message(r)
    assert len(api.ok(f"/workspaces/{sim.org_workspace_gid}/teams")["data"]) == 3


def test_boolean_param_validation(api, sim):
    ws = sim.org_workspace_gid
    assert api.get(f"/workspaces/{ws}/projects", archived="yes").status_code == 400
    archived = api.all_pages(f"/workspaces/{ws}/projects", archived="true",
                             opt_fields="archived")
    live = api.all_pages(f"/workspaces/{ws}/projects", archived="false", opt_fields="archived")
    assert archived and live and all(p["archived"] for p in archived)
    assert not any(p["archived"] for p in live)


def test_opt_pretty_and_content_type(api, sim):
    r = api.get("/workspaces", opt_pretty="")
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert "\n  " in r.text and r.headers.get("Date")


def test_keep_alive_reuses_one_connection(sim):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/api/1.0/workspaces", headers={"Authorization": "Bearer sim-test-token"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Length")
        resp.read()
    conn.close()
