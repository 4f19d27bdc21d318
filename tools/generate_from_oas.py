#!/usr/bin/env python3
"""Generate committed artefacts from Asana's OpenAPI spec.

Why
---
The tap (``tap-asana/``) and the API simulator (``asana-simulator/``) both need
facts that live in Asana's official OpenAPI spec (``asana_oas.yaml``, ~3 MB):
which ``opt_fields`` each endpoint accepts, which fields each resource has and
their types, which fields are deprecated or opt-in.  The spec lives outside
this repository (``../shared/asana_oas.yaml``), and the repository must build
and test without it.  So this script distils the spec into small JSON files
that ARE committed; nothing reads the spec at build, test or run time.

Outputs (paths relative to the repository root)
-----------------------------------------------
* ``asana-simulator/asana_simulator/spec/endpoints.json``
  per endpoint: ``opt_fields`` enum, query parameters, ``paginated``, and the
  name of the ``data`` item schema.
* ``asana-simulator/asana_simulator/spec/resources.json``
  fully resolved schema trees ($refs inlined, ``allOf`` merged, cut at depth
  4) of the eight ``*Response`` and ``*Compact`` schemas, plus
  ``compact_fields`` per resource type.
* ``tap-asana/tap_asana/schemas/<stream>.json`` (one per stream)
  Singer (JSON Schema draft 7) stream schemas.
* ``tap-asana/tap_asana/schemas/opt_fields.json``
  the non-deprecated ``opt_fields`` the tap requests, per stream.

How to re-run
-------------
Only when the spec changes (e.g. a new copy of
https://raw.githubusercontent.com/Asana/openapi/master/defs/asana_oas.yaml)::

    python tools/generate_from_oas.py [--spec ../shared/asana_oas.yaml]

then review ``git diff`` and commit.  Output is deterministic (sorted keys,
stable order, trailing newline), so re-running on an unchanged spec produces
no diff; ``tests/test_generated_artifacts.py`` checks exactly that when the
spec is present.  Deprecated fields that were left out of the tap's
``opt_fields`` are printed to stdout for review.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "asana_oas.yaml"

SIMULATOR_SPEC_DIR = Path("asana-simulator/asana_simulator/spec")
TAP_SCHEMA_DIR = Path("tap-asana/tap_asana/schemas")

# Endpoints the simulator serves (exact "METHOD path" keys of endpoints.json).
ENDPOINTS = [
    "GET /workspaces",
    "GET /workspaces/{workspace_gid}",
    "GET /workspaces/{workspace_gid}/projects",
    "GET /projects/{project_gid}/sections",
    "GET /workspaces/{workspace_gid}/tags",
    "GET /tasks",
    "GET /projects/{project_gid}/tasks",
    "GET /tasks/{task_gid}",
    "GET /tasks/{task_gid}/stories",
    "GET /tasks/{task_gid}/subtasks",
    "GET /events",
    "GET /workspaces/{workspace_gid}/teams",
    "GET /users",
    "GET /workspaces/{workspace_gid}/users",
    "GET /workspaces/{workspace_gid}/tasks/search",
]

# Resource families: full and compact schema names.
RESOURCES = ["Workspace", "Project", "Section", "Tag", "Task", "Story", "Team", "User"]

# Tap stream -> (endpoint whose opt_fields enum is used, full response schema).
STREAMS = {
    "workspaces": ("GET /workspaces", "WorkspaceResponse"),
    "projects": ("GET /workspaces/{workspace_gid}/projects", "ProjectResponse"),
    "sections": ("GET /projects/{project_gid}/sections", "SectionResponse"),
    "tags": ("GET /workspaces/{workspace_gid}/tags", "TagResponse"),
    "tasks": ("GET /tasks", "TaskResponse"),
    # Subtasks are tasks: the same record, read through the subtasks endpoint.
    "subtasks": ("GET /tasks/{task_gid}/subtasks", "TaskResponse"),
    "stories": ("GET /tasks/{task_gid}/stories", "StoryResponse"),
    "teams": ("GET /workspaces/{workspace_gid}/teams", "TeamResponse"),
    "users": ("GET /users", "UserResponse"),
}

# Columns the tap adds itself (parent keys); not part of the API record.
EXTRA_COLUMNS = {
    "sections": {"project_gid": {"type": ["string"]}},
    "stories": {"task_gid": {"type": ["string"]}},
}

# Every opt_fields enum contains the NextPage fields; they are not resource fields.
PAGINATION_ARTEFACTS = {"offset", "path", "uri"}

# Fields returned only when asked for, although most enums do not list them.
ALWAYS_REQUESTED = ["resource_type"]

MAX_DEPTH = 4  # object nodes this many property hops deep become compact stubs

DEPRECATED_RE = re.compile(r"^\W*deprecated\b", re.IGNORECASE)
OPT_IN_RE = re.compile(r"\[opt in\]|only returned when requesting", re.IGNORECASE)

SINGER_FORMATS = {"date", "date-time"}


# --------------------------------------------------------------------------
# Spec access
# --------------------------------------------------------------------------


def load_spec(path: Path) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def lookup_ref(spec: dict, ref: str) -> dict:
    """Return the object a local ``#/a/b/c`` reference points to."""
    assert ref.startswith("#/"), ref
    node = spec
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def operation(spec: dict, endpoint: str) -> tuple[dict, dict]:
    method, path = endpoint.split(" ", 1)
    path_item = spec["paths"][path]
    return path_item, path_item[method.lower()]


def operation_parameters(spec: dict, endpoint: str) -> list[dict]:
    """Path-level plus operation-level parameters, $refs resolved."""
    path_item, op = operation(spec, endpoint)
    params = []
    for param in path_item.get("parameters", []) + op.get("parameters", []):
        if "$ref" in param:
            param = lookup_ref(spec, param["$ref"])
        params.append(param)
    return params


def response_200_schema(spec: dict, endpoint: str) -> dict:
    _, op = operation(spec, endpoint)
    responses = op["responses"]
    response = responses.get(200) or responses.get("200")
    if "$ref" in response:
        response = lookup_ref(spec, response["$ref"])
    return response["content"]["application/json"]["schema"]


# --------------------------------------------------------------------------
# Schema resolution: $ref inlining and allOf merging
# --------------------------------------------------------------------------


def is_deprecated(schema: dict) -> bool:
    return bool(schema.get("deprecated")) or bool(
        DEPRECATED_RE.search(schema.get("description") or "")
    )


def is_opt_in(schema: dict) -> bool:
    return bool(OPT_IN_RE.search(schema.get("description") or ""))


def flatten(spec: dict, schema: dict) -> list[dict]:
    """Expand $ref and allOf into the flat list of raw parts to merge.

    Keys next to a ``$ref`` (e.g. a property-level description) are kept as
    an extra part after the referenced schema, so they override it.
    """
    parts: list[dict] = []
    if "$ref" in schema:
        parts.extend(flatten(spec, lookup_ref(spec, schema["$ref"])))
    for sub in schema.get("allOf", []):
        parts.extend(flatten(spec, sub))
    own = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
    if own:
        parts.append(own)
    return parts


def merge_parts(parts: list[dict]) -> dict:
    """Merge flattened allOf parts: later scalars win, properties are unioned,
    and the deprecated / opt-in markers of any part stick."""
    merged: dict = {"properties": {}}
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                for name, prop in value.items():
                    merged["properties"].setdefault(name, []).append(prop)
            elif key not in ("description", "example", "deprecated"):
                merged[key] = value
        merged["deprecated"] = merged.get("deprecated", False) or is_deprecated(part)
        merged["opt_in"] = merged.get("opt_in", False) or is_opt_in(part)
    return merged


def infer_format(name: str, node: dict) -> dict:
    """Fill in a date/date-time format the spec forgot, judged by the name.

    (The custom-field ``date_value.date`` / ``date_value.date_time`` strings
    carry no ``format`` in the spec, only a description.)
    """
    if node.get("type") == "string" and "format" not in node:
        if name == "date_time" or name.endswith("_at"):
            node["format"] = "date-time"
        elif name == "date" or name.endswith("_on"):
            node["format"] = "date"
    return node


def compact_stub() -> dict:
    """What a too-deep (or recursive) object is cut to."""
    string = {"type": "string", "nullable": False, "deprecated": False,
              "readOnly": False, "opt_in": False}
    return {
        "type": "object",
        "nullable": True,
        "deprecated": False,
        "readOnly": True,
        "opt_in": False,
        "properties": {k: dict(string) for k in ("gid", "name", "resource_type")},
    }


def resolve(spec: dict, schema: dict, depth: int = 0) -> dict:
    """Resolve a schema into a self-contained tree.

    ``depth`` counts property hops from the resource root (array items do not
    add a hop).  An object met at ``MAX_DEPTH`` is replaced by a compact
    ``{gid, resource_type, name}`` stub, which also bounds any recursion.
    """
    merged = merge_parts(flatten(spec, schema))
    prop_parts = merged.pop("properties")
    node_type = merged.get("type") or ("object" if prop_parts else None)
    if node_type is None and "items" in merged:
        node_type = "array"

    node: dict = {
        "deprecated": merged["deprecated"],
        "nullable": bool(merged.get("nullable", False)),
        "opt_in": merged["opt_in"],
        "readOnly": bool(merged.get("readOnly", False)),
    }
    if node_type:
        node["type"] = node_type
    if merged.get("format"):
        node["format"] = merged["format"]
    if merged.get("enum"):
        node["enum"] = list(merged["enum"])

    if node_type == "object":
        if depth >= MAX_DEPTH and prop_parts:
            stub = compact_stub()
            stub.update({k: node[k] for k in ("deprecated", "nullable", "opt_in", "readOnly")})
            return stub
        node["properties"] = {
            name: infer_format(name, resolve(spec, {"allOf": parts}, depth + 1))
            for name, parts in prop_parts.items()
        }
        extra = merged.get("additionalProperties")
        if extra or not prop_parts:
            node["additionalProperties"] = True
    elif node_type == "array":
        node["items"] = resolve(spec, merged.get("items", {}), depth)
    return node


# --------------------------------------------------------------------------
# Endpoint facts
# --------------------------------------------------------------------------


def opt_fields_enum(params: list[dict]) -> list[str]:
    """The raw opt_fields enum of an operation (empty if it has none)."""
    for param in params:
        if param.get("name") == "opt_fields":
            return list(param["schema"]["items"]["enum"])
    return []


def endpoint_info(spec: dict, endpoint: str) -> dict:
    params = operation_parameters(spec, endpoint)
    body = response_200_schema(spec, endpoint)
    data = body["properties"]["data"]
    item = data.get("items", data)
    return {
        "opt_fields": sorted(set(opt_fields_enum(params)) - PAGINATION_ARTEFACTS),
        "paginated": "next_page" in body.get("properties", {}),
        "query_params": sorted({p["name"] for p in params if p.get("in") == "query"}),
        "resource": ref_name(item["$ref"]),
    }


def build_endpoints(spec: dict) -> dict:
    return {endpoint: endpoint_info(spec, endpoint) for endpoint in ENDPOINTS}


# --------------------------------------------------------------------------
# Resources for the simulator
# --------------------------------------------------------------------------


def resolve_named(spec: dict, name: str) -> dict:
    return resolve(spec, {"$ref": f"#/components/schemas/{name}"})


def compact_field_list(tree: dict) -> list[str]:
    """Fields a compact record carries by default (opt-in ones excluded)."""
    return sorted(n for n, p in tree["properties"].items() if not p["opt_in"])


def build_resources(spec: dict) -> dict:
    schemas, compact_fields = {}, {}
    for resource in RESOURCES:
        for suffix in ("Compact", "Response"):
            schemas[resource + suffix] = resolve_named(spec, resource + suffix)
        compact_fields[resource.lower()] = compact_field_list(schemas[resource + "Compact"])
    return {"compact_fields": compact_fields, "schemas": schemas}


# --------------------------------------------------------------------------
# Tap: opt_fields and Singer schemas
# --------------------------------------------------------------------------


def walk_path(tree: dict, dotted: str) -> list[dict] | None:
    """Nodes along a dotted path (array items are stepped through), or None."""
    nodes, node = [], tree
    for segment in dotted.split("."):
        while node.get("type") == "array":
            node = node["items"]
        node = node.get("properties", {}).get(segment)
        if node is None:
            return None
        nodes.append(node)
    return nodes


def stream_opt_fields(enum: list[str], tree: dict) -> tuple[list[str], list[str]]:
    """Split an endpoint's opt_fields enum into (kept, deprecated) paths."""
    kept, dropped = set(ALWAYS_REQUESTED), set()
    for field in set(enum) - PAGINATION_ARTEFACTS:
        nodes = walk_path(tree, field)
        if nodes is None:
            raise SystemExit(f"opt_field {field!r} not found in the resource schema")
        (dropped if any(n["deprecated"] for n in nodes) else kept).add(field)
    return sorted(kept), sorted(dropped)


def singer_type(node: dict, nullable: bool = True) -> list[str]:
    base = node.get("type") or "object"
    return ["null", base] if nullable else [base]


def to_singer(node: dict, nullable: bool = True) -> dict:
    """Convert a resolved node into a Singer property schema.

    Enums are not enforced (Asana adds values); deprecated nested fields are
    left out; only the date / date-time formats are kept.
    """
    out: dict = {"type": singer_type(node, nullable)}
    if node.get("format") in SINGER_FORMATS:
        out["format"] = node["format"]
    base = out["type"][-1]
    if base == "object":
        props = {
            name: to_singer(child)
            for name, child in node.get("properties", {}).items()
            if not child["deprecated"]
        }
        if props:
            out["properties"] = props
        if node.get("additionalProperties") or not props:
            out["additionalProperties"] = True
    elif base == "array":
        out["items"] = to_singer(node.get("items", {}))
    return out


# The spec types these story fields `integer`, but they record changes of a
# number custom field, whose `number_value` is a `number`: a decimal value
# would not fit an integer column.
WIDEN_TO_NUMBER = {"stories": ("old_number_value", "new_number_value")}


def singer_schema(stream: str, tree: dict, opt_fields: list[str]) -> dict:
    top_level = {field.split(".", 1)[0] for field in opt_fields} | {"gid"}
    properties = {name: to_singer(tree["properties"][name]) for name in sorted(top_level)}
    for name in WIDEN_TO_NUMBER.get(stream, ()):
        properties[name]["type"] = ["null", "number"]
    properties["gid"] = {"type": ["string"]}  # primary key: never null
    properties.update(copy.deepcopy(EXTRA_COLUMNS.get(stream, {})))
    return {"type": "object", "properties": properties}


def build_tap_outputs(spec: dict, endpoints: dict) -> tuple[dict, dict, dict]:
    opt_fields, schemas, excluded = {}, {}, {}
    for stream, (endpoint, resource) in STREAMS.items():
        tree = resolve_named(spec, resource)
        kept, dropped = stream_opt_fields(endpoints[endpoint]["opt_fields"], tree)
        opt_fields[stream] = kept
        excluded[stream] = dropped
        schemas[stream] = singer_schema(stream, tree, kept)
    return opt_fields, schemas, excluded


def check_schemas(schemas: dict) -> None:
    """Fail loudly if a generated schema is not valid Draft 7."""
    from jsonschema import Draft7Validator

    for stream, schema in schemas.items():
        Draft7Validator.check_schema(schema)
        for path, sub in iter_subschemas(schema):
            if not sub.get("type"):
                raise SystemExit(f"{stream}: untyped schema at {path or '<root>'}")


def iter_subschemas(schema: dict, path: str = ""):
    """Yield (dotted path, subschema) for a schema and all nested ones."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from iter_subschemas(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from iter_subschemas(schema["items"], path + "[]")


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def dump_json(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_outputs(root: Path, files: dict[Path, object]) -> None:
    for rel_path, obj in sorted(files.items()):
        path = root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_json(obj), encoding="utf-8")
        print(f"wrote {rel_path}")


def generate(spec: dict) -> tuple[dict[Path, object], dict]:
    """Build every output; returns ({relative path: json object}, excluded)."""
    endpoints = build_endpoints(spec)
    resources = build_resources(spec)
    opt_fields, schemas, excluded = build_tap_outputs(spec, endpoints)
    check_schemas(schemas)
    files: dict[Path, object] = {
        SIMULATOR_SPEC_DIR / "endpoints.json": endpoints,
        SIMULATOR_SPEC_DIR / "resources.json": resources,
        TAP_SCHEMA_DIR / "opt_fields.json": opt_fields,
    }
    for stream, schema in schemas.items():
        files[TAP_SCHEMA_DIR / f"{stream}.json"] = schema
    return files, excluded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC,
                        help="Asana OpenAPI YAML (default: %(default)s)")
    parser.add_argument("--out-root", type=Path, default=REPO_ROOT,
                        help="directory the output paths are relative to "
                             "(default: the repository root)")
    args = parser.parse_args(argv)

    files, excluded = generate(load_spec(args.spec))
    write_outputs(args.out_root, files)
    print("deprecated opt_fields excluded from the tap's requests:")
    for stream, fields in excluded.items():
        print(f"  {stream}: {', '.join(fields) if fields else '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
