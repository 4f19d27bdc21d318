"""Opening the DuckDB destination briefly, before and after the loader runs.

DuckDB allows one writing process per file and target-duckdb needs that lock,
so omniload never holds a connection while the loader runs.  Before it starts
we open the file once: that proves it is writable, not locked by someone else,
and a real DuckDB database (clear errors before any network call), tells us
its catalog name (target-duckdb's `dbname`), reads the stored state, and drops
a stage table a crashed run may have left.  After a failed run we undo what we
created, so the destination is left as it was.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from omniload_cli import publish, state as state_mod
from omniload_cli.errors import DestinationError, with_disk_hint
from omniload_cli.uri import DestTable, DuckDBDest


@dataclass
class PreRun:
    dbname: str
    created_file: bool
    schema_existed: bool
    table_existed: bool
    stored: tuple[str, dict] | None   # (source, state) from _omniload._state


def connect(dest: DuckDBDest):
    import duckdb  # imported late: `--help` and usage errors need no duckdb

    parent = os.path.dirname(dest.path)
    if not os.path.isdir(parent):
        raise DestinationError(f"cannot create {dest.display}: directory {parent} does not exist")
    if os.path.exists(dest.path) and not os.access(dest.path, os.W_OK):
        raise DestinationError(f"the destination {dest.display} is not writable")
    if not os.path.exists(dest.path) and not os.access(parent, os.W_OK):
        raise DestinationError(f"cannot create {dest.display}: directory {parent} is not writable")
    try:
        return duckdb.connect(dest.path)
    except duckdb.Error as exc:
        msg = " ".join(str(exc).split())
        if "lock" in msg.lower():
            pid = re.search(r"PID (\d+)", msg)
            who = f" (PID {pid.group(1)})" if pid else ""
            raise DestinationError(
                f"the destination {dest.display} is locked by another process{who}; "
                f"close it (e.g. a duckdb shell or notebook) and retry") from None
        raise DestinationError(with_disk_hint(f"cannot open the destination {dest.display}: {msg}")) from None


def prepare(dest: DuckDBDest, table: DestTable, state_key: str) -> PreRun:
    created = not os.path.exists(dest.path)
    con = connect(dest)
    try:
        dbname = con.execute("SELECT current_database()").fetchone()[0]
        schema_existed = publish.schema_exists(con, table.schema)
        table_existed = publish.table_exists(con, table.schema, table.table)
        stored = state_mod.read_state(con, state_key)
        # The loader upserts into an existing table, so a stage left by a
        # killed run would leak its rows into this one.
        publish.drop_stage(con, table.schema, table.stage)
    except DestinationError:
        raise
    except Exception as exc:
        raise DestinationError(with_disk_hint(
            f"cannot read the destination {dest.display}: {' '.join(str(exc).split())}")) from None
    finally:
        con.close()
    return PreRun(dbname, created, schema_existed, table_existed, stored)


def undo(dest: DuckDBDest, table: DestTable, pre: PreRun | None) -> str | None:
    """Best effort after a failed/interrupted run; returns a warning or None."""
    if pre is None:
        return None
    try:
        if pre.created_file:
            # We created the file; the run failed; remove every trace.
            for path in (dest.path, dest.path + ".wal"):
                if os.path.exists(path):
                    os.remove(path)
            return None
        con = connect(dest)
        try:
            publish.drop_stage(con, table.schema, table.stage)
            if not pre.schema_existed and publish.schema_exists(con, table.schema):
                left = con.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
                    " AND schema_name = ?", [table.schema]).fetchone()[0]
                if left == 0:
                    con.execute(f"DROP SCHEMA {publish.q(table.schema)}")
        finally:
            con.close()
    except Exception as exc:
        why = exc.message if isinstance(exc, DestinationError) else " ".join(str(exc).split())
        return (f"the staging table {table.schema}.{table.stage} could not be removed now "
                f"({why}); it is not part of {table.display}, and the next run removes it")
    return None
