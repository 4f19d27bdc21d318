"""The simulated Asana endpoints (GET only), mounted under /api/1.0."""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from . import fields, spec
from .errors import ApiError, bad_request, not_found_id
from .events import SyncTokenExpired
from .timeutil import parse_ts_us

UNPAGINATED_CAP = 1000        # old endpoints truncate at ~1,000 objects without limit
WORKSPACE_USERS_CAP = 2000    # GET /workspaces/{gid}/users: hard cap, no next_page

GET_TASKS_FILTER_MESSAGE = (
    "Must specify exactly one of project, tag, section, user task list, or assignee + workspace")


class Ctx:
    """One API request as the handlers see it."""

    def __init__(self, sim, path: str, params: dict, param_order: list):
        self.sim = sim
        self.store = sim.store
        self.path = path              # relative to /api/1.0, e.g. "/tasks"
        self.params = params          # name -> last value
        self.param_order = param_order
        self.route = None             # e.g. "GET /tasks"
        self.ignored_params: list[str] = []


# --- helpers -------------------------------------------------------------------

def _selection(ctx, kind):
    raw = ctx.params.get("opt_fields")
    if raw is None:
        return None
    return fields.parse(raw, spec.allowed_opt_fields(ctx.route, kind))


def _limit(ctx):
    raw = ctx.params.get("limit")
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= 100:
        raise bad_request("limit: Must be an integer between 1 and 100 (inclusive).")
    return int(raw)


def _ts_param(ctx, name, allow_now=False):
    raw = ctx.params.get(name)
    if raw is None:
        return None
    if allow_now and raw == "now":
        return "now"
    us = parse_ts_us(raw)
    if us is None:
        raise bad_request(
            f"{name}: Invalid date-time: '{raw}'. Use ISO 8601 with a time zone, "
            "e.g. 2012-02-22T02:06:58.158Z")
    return us


def _bool_param(ctx, name):
    raw = ctx.params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise bad_request(f"{name}: Not a boolean: '{raw}'. Use true or false.")
    return raw == "true"


def _lookup(ctx, kind, param, gid):
    if not gid:
        raise bad_request(f"{param}: Missing input")
    obj = ctx.store.get(kind, gid)
    if obj is None:
        raise not_found_id(param, gid)
    return obj


def _user_ref(ctx, param, value):
    if value == "me":
        return ctx.store.viewer
    return _lookup(ctx, "users", param, value)


def _next_page(ctx, token):
    pairs = [(k, ctx.params[k]) for k in ctx.param_order if k != "offset"]
    pairs.append(("offset", token))
    path = ctx.path + "?" + urlencode(pairs, quote_via=quote, safe=",")
    return {"offset": token, "path": path, "uri": ctx.sim.api_url + path}


def _list(ctx, kind, items, sel):
    """Paginate (or cap) items and render them; the response body."""
    limit = _limit(ctx)
    offset = ctx.params.get("offset")
    pag = ctx.sim.paginator
    key = pag.listing_key(ctx.path, ctx.params)
    if limit is None:
        if offset is not None:
            # Asana only issues offsets with a limit; a bare offset is a bug.
            raise bad_request("offset: An offset can only be used together with limit.")
        page = items[:UNPAGINATED_CAP]
        return {"data": [fields.render(ctx.store, kind, o, sel) for o in page]}
    pos = 0 if offset is None else pag.decode(offset, key)
    page = items[pos:pos + limit]
    body = {"data": [fields.render(ctx.store, kind, o, sel) for o in page]}
    end = pos + len(page)
    body["next_page"] = _next_page(ctx, pag.issue(key, end)) if end < len(items) else None
    bug = ctx.sim.faults.paging_bug(ctx.path)
    if bug == "repeat" and offset is not None:
        body["next_page"] = _next_page(ctx, offset)
    elif bug == "cycle" and body["next_page"] is None:
        body["next_page"] = _next_page(ctx, pag.issue(key, 0))
    return body


# --- endpoints -------------------------------------------------------------------

def get_workspaces(ctx):
    sel = _selection(ctx, "workspaces")
    return _list(ctx, "workspaces", list(ctx.store.workspaces), sel)


def get_workspace(ctx, gid):
    ws = _lookup(ctx, "workspaces", "workspace", gid)
    sel = _selection(ctx, "workspaces")
    return {"data": fields.render(ctx.store, "workspaces", ws, sel, single=True)}


def get_workspace_projects(ctx, gid):
    ws = _lookup(ctx, "workspaces", "workspace", gid)
    sel = _selection(ctx, "projects")
    archived = _bool_param(ctx, "archived")
    items = [p for p in ctx.store.live_projects(ws)
             if archived is None or p.archived == archived]
    return _list(ctx, "projects", items, sel)


def get_project_sections(ctx, gid):
    p = _lookup(ctx, "projects", "project", gid)
    sel = _selection(ctx, "sections")
    return _list(ctx, "sections", [s for s in p.sections if not s.deleted], sel)


def get_workspace_tags(ctx, gid):
    ws = _lookup(ctx, "workspaces", "workspace", gid)
    sel = _selection(ctx, "tags")
    return _list(ctx, "tags", [t for t in ws.tags if not t.deleted], sel)


def _completed_filter(items, completed_since):
    if completed_since is None:
        return items
    if completed_since == "now":
        return [t for t in items if not t.completed]
    return [t for t in items
            if not t.completed or (t.completed_at is not None
                                   and t.completed_at * 1000 >= completed_since)]


def get_tasks(ctx):
    p = ctx.params
    has_assignee, has_ws = "assignee" in p, "workspace" in p
    chosen = sum(("project" in p, "tag" in p, "section" in p, has_assignee and has_ws))
    if chosen != 1 or has_assignee != has_ws:
        raise bad_request(GET_TASKS_FILTER_MESSAGE)
    sel = _selection(ctx, "tasks")
    modified_since = _ts_param(ctx, "modified_since")
    completed_since = _ts_param(ctx, "completed_since", allow_now=True)
    store = ctx.store
    if "project" in p:
        items = store.live_tasks_of_project(_lookup(ctx, "projects", "project", p["project"]))
    elif "section" in p:
        sec = _lookup(ctx, "sections", "section", p["section"])
        items = [t for t in store.live_tasks_of_project(sec.project)
                 if any(s is sec for _, s in t.memberships)]
    elif "tag" in p:
        tag = _lookup(ctx, "tags", "tag", p["tag"])
        items = [t for t in store.tasks if not t.deleted and tag in t.tags]
    else:
        ws = _lookup(ctx, "workspaces", "workspace", p["workspace"])
        user = _user_ref(ctx, "assignee", p["assignee"])
        items = [t for t in store.tasks
                 if not t.deleted and t.workspace is ws and t.assignee is user]
    if modified_since is not None:
        # Inclusive, and association changes (added to a project) count.
        items = [t for t in items if t.changed_at() * 1000 >= modified_since]
    items = _completed_filter(items, completed_since)
    return _list(ctx, "tasks", items, sel)


def get_project_tasks(ctx, gid):
    proj = _lookup(ctx, "projects", "project", gid)
    sel = _selection(ctx, "tasks")
    completed_since = _ts_param(ctx, "completed_since", allow_now=True)
    # modified_since is not a parameter of this endpoint: like Asana we ignore
    # it silently (it shows up in the request log's ignored_params).
    items = _completed_filter(ctx.store.live_tasks_of_project(proj), completed_since)
    return _list(ctx, "tasks", items, sel)


def get_task(ctx, gid):
    # A deleted (trashed) task is not found, like any unknown gid.
    t = _lookup(ctx, "tasks", "task", gid)
    sel = _selection(ctx, "tasks")
    return {"data": fields.render(ctx.store, "tasks", t, sel, single=True)}


def get_task_stories(ctx, gid):
    t = _lookup(ctx, "tasks", "task", gid)
    sel = _selection(ctx, "stories")
    items = sorted(ctx.store.live_stories(t), key=lambda s: s.created_at)
    return _list(ctx, "stories", items, sel)


def get_task_subtasks(ctx, gid):
    # Direct subtasks only (a sub-subtask needs its own call), in their order
    # under the parent; no modified_since, as in Asana.
    t = _lookup(ctx, "tasks", "task", gid)
    sel = _selection(ctx, "tasks")
    return _list(ctx, "tasks", ctx.store.live_subtasks(t), sel)


def get_events(ctx):
    """GET /events?resource=<project or task gid>&sync=<token>: up to 100
    events a call, `has_more` when there are more; 412 with a fresh `sync`
    for a missing, invalid or expired token."""
    gid = ctx.params.get("resource")
    if not gid:
        raise bad_request("resource: Missing input")
    store = ctx.store
    if store.get("projects", gid) is None and store.get("tasks", gid) is None:
        if any(store.get(kind, gid) is not None for kind in ("workspaces", "users", "tags", "sections")):
            raise bad_request(f"resource: Not a task, project or goal: {gid}")
        raise not_found_id("resource", gid)
    sel = _selection(ctx, "events")
    try:
        events, token, has_more = store.events.read(gid, ctx.params.get("sync"))
    except SyncTokenExpired as expired:
        raise ApiError(412, str(expired), extra={"sync": expired.fresh}) from None
    if sel is not None:
        # Events' nested objects are already compact ({gid, resource_type, name}).
        events = [{k: v if not sel.children[k].children else fields.project(v, sel.children[k])
                   for k, v in e.items() if k in sel.children} for e in events]
    return {"data": events, "sync": token, "has_more": has_more}


def get_workspace_teams(ctx, gid):
    ws = _lookup(ctx, "workspaces", "workspace", gid)
    if not ws.is_organization:
        # Undocumented in Asana; we choose a 400 (see README) rather than an
        # empty list, so a tap must handle "no teams here" explicitly.
        raise bad_request(
            f"workspace: Not an organization: {gid}. Teams only exist in organizations.")
    sel = _selection(ctx, "teams")
    return _list(ctx, "teams", [t for t in ws.teams if not t.deleted], sel)


def get_users(ctx):
    store = ctx.store
    sel = _selection(ctx, "users")
    if "workspace" in ctx.params:
        _lookup(ctx, "workspaces", "workspace", ctx.params["workspace"])
    items = store.live_users()
    if "team" in ctx.params:
        team = _lookup(ctx, "teams", "team", ctx.params["team"])
        items = [u for u in items if team in u.teams]
    return _list(ctx, "users", items, sel)


def get_workspace_users(ctx, gid):
    _lookup(ctx, "workspaces", "workspace", gid)
    sel = _selection(ctx, "users")
    if "offset" in ctx.params:
        # This endpoint never returns next_page, so no offset can be valid.
        raise bad_request("offset: Invalid pagination token. Only pass an offset returned in "
                          "next_page.")
    users = sorted(ctx.store.live_users(), key=lambda u: (u.name, u.gid))[:WORKSPACE_USERS_CAP]
    return {"data": [fields.render(ctx.store, "users", u, sel) for u in users]}


def search_tasks(ctx, gid):
    _lookup(ctx, "workspaces", "workspace", gid)
    raise ApiError(402, "Search is only available to premium users.")


_G = r"([^/]+)"
ROUTES = [
    ("GET /workspaces", re.compile(r"/workspaces"), get_workspaces),
    ("GET /workspaces/{workspace_gid}", re.compile(rf"/workspaces/{_G}"), get_workspace),
    ("GET /workspaces/{workspace_gid}/projects", re.compile(rf"/workspaces/{_G}/projects"),
     get_workspace_projects),
    ("GET /projects/{project_gid}/sections", re.compile(rf"/projects/{_G}/sections"),
     get_project_sections),
    ("GET /workspaces/{workspace_gid}/tags", re.compile(rf"/workspaces/{_G}/tags"),
     get_workspace_tags),
    ("GET /tasks", re.compile(r"/tasks"), get_tasks),
    ("GET /projects/{project_gid}/tasks", re.compile(rf"/projects/{_G}/tasks"),
     get_project_tasks),
    ("GET /tasks/{task_gid}", re.compile(rf"/tasks/{_G}"), get_task),
    ("GET /tasks/{task_gid}/stories", re.compile(rf"/tasks/{_G}/stories"), get_task_stories),
    ("GET /tasks/{task_gid}/subtasks", re.compile(rf"/tasks/{_G}/subtasks"), get_task_subtasks),
    ("GET /events", re.compile(r"/events"), get_events),
    ("GET /workspaces/{workspace_gid}/teams", re.compile(rf"/workspaces/{_G}/teams"),
     get_workspace_teams),
    ("GET /users", re.compile(r"/users"), get_users),
    ("GET /workspaces/{workspace_gid}/users", re.compile(rf"/workspaces/{_G}/users"),
     get_workspace_users),
    ("GET /workspaces/{workspace_gid}/tasks/search",
     re.compile(rf"/workspaces/{_G}/tasks/search"), search_tasks),
]


def match(method: str, path: str):
    """(route key, handler, path args) or None."""
    if method != "GET":
        return None
    for key, rx, fn in ROUTES:
        m = rx.fullmatch(path)
        if m:
            return key, fn, m.groups()
    return None


def dispatch(ctx, method: str) -> dict:
    m = match(method, ctx.path)
    if m is None:
        raise ApiError(404, "No matching route for request")
    key, fn, args = m
    ctx.route = key
    known = spec.query_params(key) | {"tag"} if key == "GET /tasks" else spec.query_params(key)
    ctx.ignored_params += [k for k in ctx.param_order if k not in known]
    with ctx.store.lock:
        return fn(ctx, *args)
