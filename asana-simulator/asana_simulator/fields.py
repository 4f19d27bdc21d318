"""opt_fields parsing, validation and projection.

Projection rules (from Asana's docs on opt_fields; decisions in README):
- with opt_fields: exactly the named fields plus gid; a field that does not
  apply to a record (conditional) stays absent even if named;
- a bare nested name (`assignee`) gives the nested object in its compact form
  (`{gid, resource_type, name}` for users, projects...; `{gid, resource_type}`
  for bare resource refs such as task.created_by);
- a dotted name (`assignee.name`) gives `{gid, name}`: sub-fields plus gid,
  without resource_type unless asked; naming both unions them;
- without opt_fields: list endpoints give compact records, single-object
  endpoints give the full record minus opt-in fields; nested objects compact.
"""
from __future__ import annotations

from . import records, spec
from .errors import bad_request

# Compact key sets of nested objects, by their resource_type. Objects without
# a resource_type (memberships items, likes, date values, photo...) keep all
# their keys when named bare.
_NAMED = ("gid", "resource_type", "name")
NESTED_COMPACT = {
    "user": _NAMED, "workspace": _NAMED, "team": _NAMED, "project": _NAMED,
    "section": _NAMED, "tag": _NAMED, "project_template": _NAMED,
    "task": ("gid", "resource_type", "name", "resource_subtype"),
    "story": ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"),
    "custom_field": ("gid", "resource_type", "name", "type", "enum_options", "enabled",
                     "representation_type", "id_prefix", "input_restrictions",
                     "is_formula_field", "date_value", "enum_value", "multi_enum_values",
                     "number_value", "text_value", "display_value"),
    "custom_field_setting": ("gid", "resource_type"),
    "status_update": ("gid", "resource_type", "title", "resource_subtype"),
    "project_brief": ("gid", "resource_type"),
}


class Node:
    __slots__ = ("bare", "children")

    def __init__(self, bare=False):
        self.bare = bare
        self.children: dict[str, Node] = {}


BARE = Node(bare=True)


def parse(raw: str, allowed: frozenset) -> Node:
    """Parse and validate an opt_fields value into a selection tree."""
    root = Node()
    parts = raw.split(",")
    for part in parts:
        if part == "":
            raise bad_request("opt_fields: Empty field name in opt_fields")
        if part not in allowed:
            # Stricter than Asana, which may silently ignore unknown names:
            # a tap asking for a field that does not exist has a bug.
            raise bad_request(
                f"opt_fields: Unknown field '{part}' for this endpoint. "
                "Only the fields listed in the API reference for this endpoint are accepted.")
        if part in spec.PAGINATION_PSEUDO_FIELDS:
            continue
        node = root
        for seg in part.split("."):
            child = node.children.get(seg)
            if child is None:
                child = node.children[seg] = Node()
            node = child
        node.bare = True
    return root


def top_level_fields(node: Node) -> list[str]:
    return list(node.children)


def project(value, node: Node):
    if isinstance(value, list):
        return [project(v, node) for v in value]
    if not isinstance(value, dict):
        return value
    compact = ()
    if node.bare:
        rt = value.get("resource_type")
        compact = NESTED_COMPACT.get(rt, value.keys()) if rt else value.keys()
    children = node.children
    out = {}
    for k, v in value.items():
        child = children.get(k)
        if child is not None:
            if k in compact and not child.bare:
                # named both bare (via compact) and with sub-fields: union
                merged = Node(bare=True)
                merged.children = child.children
                child = merged
            out[k] = project(v, child)
        elif k == "gid" or k in compact:
            out[k] = project(v, BARE)
    return out


def render(store, kind: str, obj, node: Node | None, single: bool = False) -> dict:
    """The wire representation of obj for the given selection (None: default)."""
    if node is None:
        if single:
            fields = [n for n, _ in records.FIELDS[kind] if n not in records.OPT_IN[kind]]
        else:
            fields = records.COMPACT[kind]
        rec = records.build(store, kind, obj, fields)
        return {k: project(v, BARE) for k, v in rec.items()}
    rec = records.build(store, kind, obj, ["gid"] + top_level_fields(node))
    out = {}
    for k, v in rec.items():
        child = node.children.get(k)
        if child is None:
            out[k] = v  # gid
        else:
            out[k] = project(v, child)
    return out
