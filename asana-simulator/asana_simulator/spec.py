"""Access to the generated OpenAPI-derived metadata in spec/*.json.

The files are produced by another tool from Asana's OAS (they are package
data; nothing here reads the OAS itself). endpoints.json gives, per endpoint,
the accepted opt_fields enum and query parameters; resources.json gives the
resolved Response schemas with opt-in flags.
"""
from __future__ import annotations

import json
from functools import cache
from importlib import resources as ilr

RESPONSE_SCHEMA = {
    "workspaces": "WorkspaceResponse", "teams": "TeamResponse", "users": "UserResponse",
    "projects": "ProjectResponse", "sections": "SectionResponse", "tags": "TagResponse",
    "tasks": "TaskResponse", "stories": "StoryResponse",
    "events": "EventResponse",   # not in resources.json: its opt_fields nest no resource gid
}

# Every opt_fields enum in the OAS carries these next_page artefacts; they are
# accepted (they are in the enum) but are not resource fields.
PAGINATION_PSEUDO_FIELDS = frozenset({"offset", "path", "uri"})


def _load(name):
    return json.loads(ilr.files("asana_simulator").joinpath("spec", name).read_text("utf-8"))


@cache
def endpoints() -> dict:
    return _load("endpoints.json")


@cache
def schemas() -> dict:
    data = _load("resources.json")
    return data.get("schemas", data)


def schema_at(kind: str, path: tuple[str, ...]):
    """Resolved schema of a dotted path inside a resource, or None."""
    sch = schemas().get(RESPONSE_SCHEMA[kind])
    for part in path:
        if sch is None:
            return None
        while sch.get("type") == "array":
            sch = sch.get("items", {})
        sch = sch.get("properties", {}).get(part)
    return sch


def is_object_path(kind: str, path: tuple[str, ...]) -> bool:
    sch = schema_at(kind, path)
    while sch is not None and sch.get("type") == "array":
        sch = sch.get("items")
    return bool(sch) and "gid" in sch.get("properties", {})


@cache
def allowed_opt_fields(route: str, kind: str) -> frozenset:
    """opt_fields values this endpoint accepts.

    The endpoint enum, plus gid/resource_type at the top level (Asana always
    accepts them though most enums omit them), plus X.gid / X.resource_type
    for enum entries X that are nested resources.
    """
    enum = endpoints()[route]["opt_fields"]
    allowed = set(enum) | {"gid", "resource_type"}
    for f in enum:
        if f in PAGINATION_PSEUDO_FIELDS:
            continue
        if is_object_path(kind, tuple(f.split("."))):
            allowed.add(f + ".gid")
            allowed.add(f + ".resource_type")
    return frozenset(allowed)


def query_params(route: str) -> frozenset:
    return frozenset(endpoints()[route]["query_params"])
