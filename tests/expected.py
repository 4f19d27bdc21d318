"""What a correct extract of a simulated workspace contains: the simulator's
own truth, restricted to what Asana's list endpoints can reach; and, when an
extract differs from it, where."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

# The tables omniload loads, the tap's streams: Asana's eight resources and
# the subtasks, in the order the tap syncs them.
TABLES = ("workspaces", "projects", "sections", "tags", "tasks", "subtasks", "stories", "teams", "users")
# The simulator's kind of each table's records (subtasks are tasks).
KIND = {table: "tasks" if table == "subtasks" else table for table in TABLES}


def expected_gids(sim, stream: str) -> set[str]:
    ws, store = sim.org_workspace_gid, sim.store
    if stream == "workspaces":
        return {ws}
    if stream == "tasks":
        # Reachable through a project listing: subtasks in no project are not.
        return {t["gid"] for t in store.records("tasks", workspace_gid=ws) if t["projects"]}
    if stream == "subtasks":
        # Every level under those tasks (some are in a project too).
        return store.subtask_gids(ws)
    if stream == "stories":
        tasks = expected_gids(sim, "tasks")
        return {
            s["gid"]
            for s in store.records("stories", workspace_gid=ws)
            if s["target"]["gid"] in tasks
        }
    return {r["gid"] for r in store.records(stream, workspace_gid=ws)}


# What the tap asks Asana for, stream by stream (tools/generate_from_oas.py;
# tests/tap/test_full_sync.py checks the tap sends exactly these).
OPT_FIELDS: dict[str, list[str]] = json.loads(
    (Path(__file__).resolve().parents[1] / "tap-asana" / "tap_asana" / "schemas" / "opt_fields.json").read_text())
# The key the tap adds to a child record: the parent it was listed under,
# which Asana's record names in another field.
PARENT_KEYS = {"sections": ("project_gid", "project"), "stories": ("task_gid", "target")}


def expected_records(sim, stream: str) -> dict[str, dict]:
    """gid -> the record a full extract of stream holds: every field the tap
    asks for, exactly as the simulator's HTTP handlers render the object for
    those opt_fields, plus the parent key the tap adds."""
    from asana_simulator import fields

    wanted = OPT_FIELDS[stream]
    selection = fields.parse(",".join(wanted), frozenset(wanted))
    out = {}
    with sim.store.lock:   # as the handlers render: no mutation half-way through a record
        for gid in expected_gids(sim, stream):
            record = fields.render(sim.store, KIND[stream], sim.store.get(KIND[stream], gid), selection)
            if stream in PARENT_KEYS:
                key, parent = PARENT_KEYS[stream]
                record[key] = record[parent]["gid"]
            out[gid] = record
    return out


def expected_rows(sim, table: str, column_types: dict[str, str]) -> dict[str, dict]:
    """gid -> the row a full load of table holds, given its columns and their
    DuckDB types: expected_records as the loader stores them."""
    # A field Asana leaves out of a record (a conditional one, approval_status
    # on a task that is no approval) is a NULL, as a null one is.
    return {gid: {c: as_loaded(record.get(c), kind) for c, kind in column_types.items()}
            for gid, record in expected_records(sim, table).items()}


def as_loaded(value, column_type: str):
    """A value of an Asana record as the loader stores it in a column of that
    DuckDB type (the README: timestamps are UTC TIMESTAMPs, dates DATEs), or
    PostgreSQL type (timestamptz, date, numeric), as the readers hand it out."""
    if value is None:
        return None
    if column_type == "timestamp with time zone":
        return datetime.fromisoformat(value).astimezone(timezone.utc)
    if column_type == "date":
        return date.fromisoformat(value)
    if column_type == "numeric":
        # A `number` reaches the loader as a float, and numeric keeps its digits.
        return Decimal(repr(float(value)))
    if column_type == "TIMESTAMP":
        # Asana's instants are UTC with milliseconds ("...T10:00:00.123Z"); a
        # TIMESTAMP is the same instant, without a zone, in microseconds.
        return datetime.fromisoformat(value).astimezone(timezone.utc).replace(tzinfo=None)
    if column_type == "DATE":
        return date.fromisoformat(value)
    if column_type == "DOUBLE":
        # A `number` field is a DOUBLE column; Asana's JSON may write 3 for 3.0.
        return float(value)
    return value


def differences(got, want, path: str = "") -> list[str]:
    """Where got and want differ, one line per differing value, by its path
    (`memberships[0].section.name: got 'A', want 'B'`)."""
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for key in [*want, *(k for k in got if k not in want)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                out.append(f"{where}: missing, want {want[key]!r}")
            elif key not in want:
                out.append(f"{where}: got {got[key]!r}, want no such field")
            else:
                out += differences(got[key], want[key], where)
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")]
    # 1 == 1.0 == True in Python: a value of another type is a difference too.
    if got != want or type(got) is not type(want):
        return [f"{path}: got {got!r}, want {want!r}"]
    return []


def assert_same_records(got: dict, want: dict, what: str, limit: int = 20) -> None:
    """got and want ({gid: record}) hold the same records; if not, say where."""
    problems = [f"{gid}: missing" for gid in sorted(set(want) - set(got))]
    problems += [f"{gid}: not expected" for gid in sorted(set(got) - set(want))]
    for gid in sorted(set(got) & set(want)):
        problems += [f"{gid} {d}" for d in differences(got[gid], want[gid])]
    assert not problems, f"{what}: {len(problems)} differences, the first {limit}:\n" + "\n".join(problems[:limit])
