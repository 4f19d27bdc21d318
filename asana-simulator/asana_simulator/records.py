"""Build full Asana Response records from the compact model.

Each resource type has an ordered table of (field, builder). A builder returns
the field's value, or MISSING when the field is conditional and does not apply
(Asana omits such keys rather than sending null). Responses only evaluate the
top-level fields they need, which keeps big listings cheap.

Nested objects are emitted in a "rich" form (the compact representation plus
whatever sub-fields the endpoint's opt_fields enum lets a client select); the
projection in fields.py cuts them down to what was asked.
"""
from __future__ import annotations

from html import escape

from . import derived_values as derived
from .gids import LIKE_SLOTS, like_gid
from .timeutil import fmt_date, fmt_ts

MISSING = object()

PERMALINK = "https://app.asana.com/0"


# --- nested compact forms --------------------------------------------------

def c_user(u):
    return None if u is None else {"gid": u.gid, "resource_type": "user", "name": u.name}


def c_user_ref(u):
    # Asana returns task.created_by (and dependencies) as a bare resource ref.
    return None if u is None else {"gid": u.gid, "resource_type": "user"}


def c_workspace(w):
    return None if w is None else {"gid": w.gid, "resource_type": "workspace", "name": w.name}


def c_team(t):
    return None if t is None else {"gid": t.gid, "resource_type": "team", "name": t.name}


def c_project(p):
    return None if p is None else {"gid": p.gid, "resource_type": "project", "name": p.name}


def c_section(s):
    return None if s is None else {"gid": s.gid, "resource_type": "section", "name": s.name}


def c_tag(t):
    return None if t is None else {"gid": t.gid, "resource_type": "tag", "name": t.name}


def c_task(t):
    if t is None:
        return None
    return {"gid": t.gid, "resource_type": "task", "name": t.name,
            "resource_subtype": t.subtype, "created_by": c_user_ref(t.created_by)}


def c_enum_option(o):
    if o is None:
        return None
    return {"gid": o.gid, "resource_type": "enum_option", "name": o.name,
            "enabled": o.enabled, "color": o.color}


def c_like(like_gid, u):
    return {"gid": like_gid, "user": c_user(u)}


def likes_of(obj_gid, users):
    return [c_like(like_gid(obj_gid, i), u) for i, u in enumerate(users[:LIKE_SLOTS])]


def photo(u):
    if not u.has_photo:
        return None
    base = f"https://s3.amazonaws.com/profile_photos/{u.gid}.sim"
    return {f"image_{s}x{s}": f"{base}_{s}x{s}.png" for s in (21, 27, 36, 60, 128, 1024)}


# --- custom fields ----------------------------------------------------------

def cf_display(cf, value):
    if value is None:
        return None
    st = cf.subtype
    if st == "text":
        return value
    if st == "number":
        return f"{value:.{cf.precision}f}"
    if st == "enum":
        return value.name
    if st == "multi_enum":
        return ", ".join(o.name for o in value) if value else None
    if st == "date":
        return fmt_date(value)
    if st == "people":
        return ", ".join(u.name for u in value) if value else None
    return None


def cf_definition(cf, with_value=False, value=None):
    """CustomFieldResponse; with_value adds the per-task value keys."""
    st = cf.subtype
    d = {"gid": cf.gid, "resource_type": "custom_field", "name": cf.name, "type": st}
    if st in ("enum", "multi_enum"):
        d["enum_options"] = [c_enum_option(o) for o in cf.options]
    if with_value:
        d["enabled"] = True
    d["representation_type"] = st
    d["id_prefix"] = None
    d["input_restrictions"] = ["task"]
    d["is_formula_field"] = False
    if with_value:
        # Typed value keys are conditional: only the one matching the type.
        if st == "date":
            d["date_value"] = None if value is None else {"date": fmt_date(value), "date_time": None}
        elif st == "enum":
            d["enum_value"] = c_enum_option(value)
        elif st == "multi_enum":
            d["multi_enum_values"] = [c_enum_option(o) for o in (value or [])]
        elif st == "number":
            d["number_value"] = value
        elif st == "text":
            d["text_value"] = value
        d["display_value"] = cf_display(cf, value)
    d["description"] = cf.description
    d["precision"] = cf.precision
    d["format"] = cf.format
    d["currency_code"] = cf.currency_code
    d["custom_label"] = cf.custom_label
    d["custom_label_position"] = cf.custom_label_position
    d["is_global_to_workspace"] = False
    d["has_notifications_enabled"] = True
    d["is_value_read_only"] = False
    d["created_by"] = c_user(cf.created_by)
    if with_value and st == "people":
        d["people_value"] = [c_user(u) for u in (value or [])]
    if with_value and st == "text":
        d["html_text_value"] = None if value is None else f"<body>{escape(value, quote=False)}</body>"
    d["privacy_setting"] = "public_with_guests"
    d["default_access_level"] = "editor"
    d["resource_subtype"] = st
    return d


def cf_compact(cf):
    """CustomFieldCompact of a definition (as referenced by stories)."""
    d = {"gid": cf.gid, "resource_type": "custom_field", "name": cf.name, "type": cf.subtype}
    if cf.subtype in ("enum", "multi_enum"):
        d["enum_options"] = [c_enum_option(o) for o in cf.options]
    d["representation_type"] = cf.subtype
    d["id_prefix"] = None
    d["input_restrictions"] = ["task"]
    d["is_formula_field"] = False
    return d


def cf_setting(setting_gid, project, cf, important):
    return {"gid": setting_gid, "resource_type": "custom_field_setting",
            "project": c_project(project), "is_important": important,
            "parent": c_project(project), "custom_field": cf_definition(cf)}


# --- per-resource field tables ----------------------------------------------

WORKSPACE_FIELDS = [
    ("gid", lambda s, w: w.gid),
    ("resource_type", lambda s, w: "workspace"),
    ("name", lambda s, w: w.name),
    ("email_domains", lambda s, w: list(w.email_domains)),
    ("is_organization", lambda s, w: w.is_organization),
]

TEAM_FIELDS = [
    ("gid", lambda s, t: t.gid),
    ("resource_type", lambda s, t: "team"),
    ("name", lambda s, t: t.name),
    ("description", lambda s, t: t.description),
    ("html_description", lambda s, t: "<body>" + escape(t.description, quote=False) + "</body>"),
    ("organization", lambda s, t: c_workspace(t.workspace)),
    ("permalink_url", lambda s, t: f"{PERMALINK}/team/{t.gid}"),
    ("visibility", lambda s, t: t.visibility),
    ("edit_team_name_or_description_access_level", lambda s, t: t.levels[0]),
    ("edit_team_visibility_or_trash_team_access_level", lambda s, t: t.levels[1]),
    ("member_invite_management_access_level", lambda s, t: t.levels[2]),
    ("guest_invite_management_access_level", lambda s, t: t.levels[3]),
    ("join_request_management_access_level", lambda s, t: t.levels[4]),
    ("team_member_removal_access_level", lambda s, t: t.levels[5]),
    ("team_content_management_access_level", lambda s, t: t.levels[6]),
    ("endorsed", lambda s, t: t.endorsed),
    ("custom_field_settings", lambda s, t: []),
]

USER_FIELDS = [
    ("gid", lambda s, u: u.gid),
    ("resource_type", lambda s, u: "user"),
    ("name", lambda s, u: u.name),
    ("email", lambda s, u: u.email),
    ("photo", lambda s, u: photo(u)),
    ("workspaces", lambda s, u: [c_workspace(w) for w in s.workspaces]),
    ("custom_fields", lambda s, u: []),
]

SECTION_FIELDS = [
    ("gid", lambda s, x: x.gid),
    ("resource_type", lambda s, x: "section"),
    ("name", lambda s, x: x.name),
    ("created_at", lambda s, x: fmt_ts(x.created_at)),
    ("project", lambda s, x: c_project(x.project)),
    ("projects", lambda s, x: [c_project(x.project)]),
]

TAG_FIELDS = [
    ("gid", lambda s, t: t.gid),
    ("resource_type", lambda s, t: "tag"),
    ("name", lambda s, t: t.name),
    ("color", lambda s, t: t.color),
    ("notes", lambda s, t: t.notes),
    ("created_at", lambda s, t: fmt_ts(t.created_at)),
    ("followers", lambda s, t: [c_user(u) for u in t.followers]),
    ("workspace", lambda s, t: c_workspace(t.workspace)),
    ("permalink_url", lambda s, t: f"{PERMALINK}/{t.gid}/list"),
]


PROJECT_FIELDS = [
    ("gid", lambda s, p: p.gid),
    ("resource_type", lambda s, p: "project"),
    ("name", lambda s, p: p.name),
    ("archived", lambda s, p: p.archived),
    ("color", lambda s, p: p.color),
    ("icon", lambda s, p: p.icon),
    ("created_at", lambda s, p: fmt_ts(p.created_at)),
    ("current_status", lambda s, p: None),
    ("current_status_update", lambda s, p: None),
    ("custom_field_settings", lambda s, p: [cf_setting(g, p, cf, imp)
                                            for g, cf, imp in p.custom_field_settings]),
    ("default_view", lambda s, p: p.default_view),
    ("due_date", lambda s, p: fmt_date(p.due_on)),
    ("due_on", lambda s, p: fmt_date(p.due_on)),
    ("html_notes", lambda s, p: "<body>" + escape(derived.project_notes(s, p), quote=False)
     + "</body>"),
    ("members", lambda s, p: [c_user(u) for u in p.members]),
    ("modified_at", lambda s, p: fmt_ts(p.modified_at)),
    ("notes", derived.project_notes),
    ("public", lambda s, p: p.privacy_setting == "public_to_workspace"),
    ("privacy_setting", lambda s, p: p.privacy_setting),
    ("start_on", lambda s, p: fmt_date(p.start_on)),
    ("default_access_level", lambda s, p: "editor"),
    ("minimum_access_level_for_customization", lambda s, p: "editor"),
    ("minimum_access_level_for_sharing", lambda s, p: "editor"),
    ("custom_fields", lambda s, p: []),
    ("completed", lambda s, p: p.completed),
    ("completed_at", lambda s, p: fmt_ts(p.completed_at)),
    ("completed_by", lambda s, p: c_user(p.completed_by)),
    ("followers", lambda s, p: [c_user(u) for u in p.followers]),
    ("owner", lambda s, p: c_user(p.owner)),
    # Personal (non-organization) workspaces have no teams: team is null there.
    ("team", lambda s, p: c_team(p.team)),
    ("permalink_url", lambda s, p: f"{PERMALINK}/{p.gid}/{p.gid}"),
    ("project_brief", lambda s, p: None),
    ("created_from_template", lambda s, p: None),
    ("workspace", lambda s, p: c_workspace(p.workspace)),
]


def _task_approval(s, t):
    return t.approval_status if t.subtype == "approval" else MISSING


def _task_assignee_section(s, t):
    # Only meaningful to the assignee: shown when the token's user is assignee.
    if t.assignee is None or t.assignee is not s.viewer:
        return MISSING
    return c_section(derived.my_tasks_section(s, t))


def _task_memberships(s, t):
    return [{"project": c_project(p), "section": c_section(sec)} for p, sec in t.memberships]


def _task_custom_fields(s, t):
    return [cf_definition(cf, True, derived.cf_value(s, t, cf))
            for cf in derived.task_custom_field_defs(t)]


TASK_FIELDS = [
    ("gid", lambda s, t: t.gid),
    ("resource_type", lambda s, t: "task"),
    ("name", lambda s, t: t.name),
    ("resource_subtype", lambda s, t: t.subtype),
    ("created_by", lambda s, t: c_user_ref(t.created_by)),
    ("approval_status", _task_approval),
    ("assignee_status", derived.assignee_status),
    ("completed", lambda s, t: t.completed),
    ("completed_at", lambda s, t: fmt_ts(t.completed_at)),
    ("completed_by", lambda s, t: c_user(t.completed_by)),
    ("created_at", lambda s, t: fmt_ts(t.created_at)),
    ("dependencies", lambda s, t: []),
    ("dependents", lambda s, t: []),
    ("due_at", lambda s, t: fmt_ts(t.due_at)),
    ("due_on", lambda s, t: fmt_date(t.due_on)),
    ("external", derived.task_external),
    ("html_notes", lambda s, t: "<body>" + escape(derived.task_notes(s, t), quote=False)
     + "</body>"),
    ("hearted", lambda s, t: s.viewer in t.likes),
    ("hearts", lambda s, t: likes_of(t.gid, t.likes)),
    ("is_rendered_as_separator", lambda s, t: False),
    ("liked", lambda s, t: s.viewer in t.likes),
    ("likes", lambda s, t: likes_of(t.gid, t.likes)),
    ("memberships", _task_memberships),
    ("modified_at", lambda s, t: fmt_ts(t.modified_at)),
    ("notes", derived.task_notes),
    ("num_hearts", lambda s, t: len(t.likes)),
    ("num_likes", lambda s, t: len(t.likes)),
    ("num_subtasks", lambda s, t: len(s.live_subtasks(t))),
    ("start_at", lambda s, t: None),
    ("start_on", lambda s, t: fmt_date(t.start_on)),
    ("actual_time_minutes", derived.actual_time_minutes),
    ("assigned_by", lambda s, t: c_user(t.assigned_by)),
    ("assignee", lambda s, t: c_user(t.assignee)),
    ("assignee_section", _task_assignee_section),
    ("custom_fields", _task_custom_fields),
    ("custom_type", lambda s, t: None),
    ("custom_type_status_option", lambda s, t: None),
    ("followers", lambda s, t: [c_user(u) for u in t.followers]),
    ("parent", lambda s, t: c_task(t.parent)),
    ("projects", lambda s, t: [c_project(p) for p, _ in t.memberships]),
    ("tags", lambda s, t: [c_tag(x) for x in t.tags]),
    ("workspace", lambda s, t: c_workspace(t.workspace)),
    ("permalink_url", lambda s, t: f"{PERMALINK}/"
     f"{t.memberships[0][0].gid if t.memberships else 0}/{t.gid}"),
]


def _story_only(subtypes, fn):
    def build(s, st):
        return fn(s, st) if st.subtype in subtypes else MISSING
    return build


def _comment_only(fn):
    def build(s, st):
        return fn(s, st) if st.is_comment else MISSING
    return build


def _extra(key, conv=lambda v: v):
    def build(s, st):
        if key not in st.extra:
            return MISSING
        return conv(st.extra[key])
    return build


def _dates(d):
    return {"start_on": fmt_date(d[0]), "due_at": fmt_ts(d[1]), "due_on": fmt_date(d[2])}


STORY_FIELDS = [
    ("gid", lambda s, st: st.gid),
    ("resource_type", lambda s, st: "story"),
    ("created_at", lambda s, st: fmt_ts(st.created_at)),
    ("resource_subtype", lambda s, st: st.subtype),
    ("text", lambda s, st: st.text),
    ("html_text", lambda s, st: "<body>" + escape(st.text, quote=False) + "</body>"),
    ("is_pinned", _comment_only(lambda s, st: st.is_pinned)),
    ("sticker_name", _comment_only(lambda s, st: st.sticker_name)),
    ("created_by", lambda s, st: c_user(st.author)),
    ("type", lambda s, st: "comment" if st.is_comment else "system"),
    ("is_editable", _comment_only(lambda s, st: st.author is s.viewer)),
    ("is_edited", _comment_only(lambda s, st: st.is_edited)),
    ("hearted", _comment_only(lambda s, st: s.viewer in st.likes)),
    ("hearts", _comment_only(lambda s, st: likes_of(st.gid, st.likes))),
    ("num_hearts", _comment_only(lambda s, st: len(st.likes))),
    ("liked", _comment_only(lambda s, st: s.viewer in st.likes)),
    ("likes", _comment_only(lambda s, st: likes_of(st.gid, st.likes))),
    ("num_likes", _comment_only(lambda s, st: len(st.likes))),
    ("reaction_summary", lambda s, st: (
        [{"emoji_base": "👍", "variant": "👍", "count": len(st.likes),
          "reacted": s.viewer in st.likes}] if st.likes else [])),
    ("old_name", _extra("old_name")),
    ("new_name", _extra("new_name")),
    ("old_dates", _extra("old_dates", _dates)),
    ("new_dates", _extra("new_dates", _dates)),
    ("old_resource_subtype", _extra("old_resource_subtype")),
    ("new_resource_subtype", _extra("new_resource_subtype")),
    ("story", _extra("story")),
    ("assignee", _extra("assignee", c_user)),
    ("follower", _extra("follower", c_user)),
    ("old_section", _extra("old_section", c_section)),
    ("new_section", _extra("new_section", c_section)),
    ("task", _extra("task", c_task)),
    ("project", _extra("project", c_project)),
    ("tag", _extra("tag", c_tag)),
    ("custom_field", _extra("custom_field", lambda cf: cf_compact(cf))),
    ("old_text_value", _extra("old_text_value")),
    ("new_text_value", _extra("new_text_value")),
    ("old_number_value", _extra("old_number_value")),
    ("new_number_value", _extra("new_number_value")),
    ("old_enum_value", _extra("old_enum_value", c_enum_option)),
    ("new_enum_value", _extra("new_enum_value", c_enum_option)),
    ("old_date_value", _extra("old_date_value", _dates)),
    ("new_date_value", _extra("new_date_value", _dates)),
    ("old_people_value", _extra("old_people_value", lambda us: [c_user(u) for u in us])),
    ("new_people_value", _extra("new_people_value", lambda us: [c_user(u) for u in us])),
    ("old_multi_enum_values", _extra("old_multi_enum_values",
                                     lambda os: [c_enum_option(o) for o in os])),
    ("new_multi_enum_values", _extra("new_multi_enum_values",
                                     lambda os: [c_enum_option(o) for o in os])),
    ("new_approval_status", _extra("new_approval_status")),
    ("old_approval_status", _extra("old_approval_status")),
    ("duplicate_of", _extra("duplicate_of", c_task)),
    ("duplicated_from", _extra("duplicated_from", c_task)),
    ("dependency", _extra("dependency", c_task)),
    ("source", lambda s, st: st.source),
    ("target", lambda s, st: c_task(st.task)),
]

FIELDS = {
    "workspaces": WORKSPACE_FIELDS,
    "teams": TEAM_FIELDS,
    "users": USER_FIELDS,
    "sections": SECTION_FIELDS,
    "tags": TAG_FIELDS,
    "projects": PROJECT_FIELDS,
    "tasks": TASK_FIELDS,
    "stories": STORY_FIELDS,
}
FIELD_MAP = {kind: dict(tbl) for kind, tbl in FIELDS.items()}

RESOURCE_TYPE = {
    "workspaces": "workspace", "teams": "team", "users": "user", "sections": "section",
    "tags": "tag", "projects": "project", "tasks": "task", "stories": "story",
}

# Opt-in fields (Asana's docs mark them "opt in"): never returned unless
# named in opt_fields.
OPT_IN = {
    "workspaces": set(),
    "teams": {"description", "html_description"},
    "users": set(),
    "sections": set(),
    "tags": set(),
    "projects": {"html_notes", "project_brief", "created_from_template"},
    "tasks": {"created_by", "dependencies", "dependents", "external", "html_notes",
              "is_rendered_as_separator", "num_subtasks", "assigned_by"},
    "stories": {"html_text"},
}

# Compact representations (what list endpoints return without opt_fields).
COMPACT = {
    "workspaces": ["gid", "resource_type", "name"],
    "teams": ["gid", "resource_type", "name"],
    "users": ["gid", "resource_type", "name"],
    "sections": ["gid", "resource_type", "name"],
    "tags": ["gid", "resource_type", "name"],
    "projects": ["gid", "resource_type", "name"],
    "tasks": ["gid", "resource_type", "name", "resource_subtype"],
    "stories": ["gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"],
}


def build(store, kind, obj, fields=None):
    """Full record of obj, or only the given top-level fields (in table order)."""
    out = {}
    if fields is None:
        for name, fn in FIELDS[kind]:
            v = fn(store, obj)
            if v is not MISSING:
                out[name] = v
        return out
    fmap = FIELD_MAP[kind]
    for name in fields:
        fn = fmap.get(name)
        if fn is None:
            continue
        v = fn(store, obj)
        if v is not MISSING:
            out[name] = v
    return out
