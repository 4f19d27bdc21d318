"""Opening the DuckDB destination briefly, before and after the loader runs.

DuckDB allows one writing process per file and target-duckdb needs that lock,
so omniload never holds a connection while the loader runs.  Before it starts
we open the file once: that proves it is writable, not locked by someone else,
and a real DuckDB database (clear errors before any network call), tells us
its catalog name (target-duckdb's `dbname`), reads the stored state, and drops
the stage tables killed runs left.  After a failed run we undo what we
created, so the destination is left as it was.

All of it happens under the run's lock (run_lock.py): no other omniload run
is using the file meanwhile, so every stage table found is abandoned, and a
file this run created is this run's to remove.

Every connection is opened with DuckDB's extension auto-install and
auto-load off: a destination must never make DuckDB download code (opening
an SQLite file, for one, would fetch the sqlite extension and attach it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from omniload_cli import publish
from omniload_cli import state as state_mod
from omniload_cli.errors import DestinationError, with_disk_hint
from omniload_cli.uri import STAGE_PREFIX, DestTable, DuckDBDest

# Given to every duckdb.connect() omniload and its loader make.
NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False,
                          "autoload_known_extensions": False}

_DUCKDB_MAGIC = b"DUCK"          # bytes 8..12 of every DuckDB database file
_OTHER_FORMATS = ((b"SQLite format 3\0", "an SQLite database"), (b"PAR1", "a Parquet file"),
                  (b"PK\x03\x04", "a zip archive"), (b"\x89HDF", "an HDF5 file"))


@dataclass
class PreRun:
    dbname: str
    created_file: tuple[int, int] | None   # (st_dev, st_ino) of the file this run created
    schema_existed: bool
    table_existed: bool
    stored: tuple[str, dict] | None   # (source, state) from _omniload._state


def check_paths(dest: DuckDBDest) -> None:
    """Local checks that need no DuckDB: the file can be created or written,
    and an existing file is a DuckDB database."""
    parent = os.path.dirname(dest.path)
    if not os.path.isdir(parent):
        raise DestinationError(f"cannot create {dest.display}: directory {parent} does not exist")
    if os.path.exists(dest.path):
        if not os.access(dest.path, os.W_OK):
            raise DestinationError(f"the destination {dest.display} is not writable")
        _require_duckdb_file(dest)
    elif not os.access(parent, os.W_OK):
        raise DestinationError(f"cannot create {dest.display}: directory {parent} is not writable")


def _require_duckdb_file(dest: DuckDBDest) -> None:
    try:
        with open(dest.path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise DestinationError(f"cannot read the destination {dest.display}: {exc.strerror}") from None
    if head[8:12] == _DUCKDB_MAGIC:
        return
    what = next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)),
                "an empty file" if not head else "not a DuckDB database")
    if not what.startswith("not"):
        what = f"{what}, not a DuckDB database"
    raise DestinationError(f"the destination {dest.display} is {what}; omniload writes DuckDB "
                           f"files only: name a new file or an existing DuckDB database", exit_code=2)


def connect(dest: DuckDBDest):
    import duckdb  # imported late: `--help` and usage errors need no duckdb

    check_paths(dest)
    config: dict[str, str | bool | int | float | list[str]] = dict(NO_EXTENSION_DOWNLOADS)
    if not os.path.exists(dest.path):
        config["storage_compatibility_version"] = dest.storage_version
    try:
        return duckdb.connect(dest.path, config=config)
    except duckdb.Error as exc:
        msg = " ".join(str(exc).split())
        if "lock" in msg.lower():
            pid = re.search(r"PID (\d+)", msg)
            who = f" (PID {pid.group(1)})" if pid else ""
            raise DestinationError(
                f"the destination {dest.display} is locked by another process{who}; "
                f"close it (e.g. a duckdb shell or notebook) and retry") from None
        if "not a known DuckDB version" in msg:
            raise DestinationError(f"storage_version {dest.storage_version!r} is not a DuckDB "
                                   f"release this duckdb knows", exit_code=2) from None
        raise DestinationError(with_disk_hint(f"cannot open the destination {dest.display}: {msg}")) from None


def prepare(dest: DuckDBDest, table: DestTable, state_key: str) -> PreRun:
    created = not os.path.exists(dest.path)
    con = connect(dest)
    identity = None
    try:
        if created:
            st = os.stat(dest.path)
            identity = (st.st_dev, st.st_ino)
        dbname = con.execute("SELECT current_database()").fetchone()[0]
        kind = publish.relation_kind(con, table.schema, table.table)
        if kind not in (None, "table"):
            raise DestinationError(
                f"{table.display} is a {kind} in {dest.display}; omniload loads into tables: "
                f"choose another --dest-table, or drop the {kind}", exit_code=2)
        schema_existed = publish.schema_exists(con, table.schema)
        table_existed = kind == "table"
        stored = state_mod.read_state(con, state_key)
        # Under the run lock, any stage is a killed run's: its rows must not
        # reach a table, and its space is freed.
        for stage in publish.tables_with_prefix(con, table.schema, STAGE_PREFIX):
            publish.drop_stage(con, table.schema, stage)
    except DestinationError:
        con.close()
        _remove_created(dest, identity)
        raise
    except Exception as exc:  # noqa: BLE001 - any DuckDB or OS error: one line, file removed
        con.close()
        _remove_created(dest, identity)
        raise DestinationError(with_disk_hint(
            f"cannot read the destination {dest.display}: {' '.join(str(exc).split())}")) from None
    con.close()
    return PreRun(dbname, identity, schema_existed, table_existed, stored)


def undo(dest: DuckDBDest, table: DestTable, stage: str, pre: PreRun | None) -> str | None:
    """Best effort after a failed/interrupted run; returns a warning or None."""
    if pre is None:
        return None
    try:
        if pre.created_file is not None:
            # This run created the file and failed: remove every trace.
            _remove_created(dest, pre.created_file)
            return None
        con = connect(dest)
        try:
            publish.drop_stage(con, table.schema, stage)
            if (not pre.schema_existed and publish.schema_exists(con, table.schema)
                    and not publish.tables_with_prefix(con, table.schema, "")):
                con.execute(f"DROP SCHEMA {publish.q(table.schema)}")
        finally:
            con.close()
    except Exception as exc:  # noqa: BLE001 - best effort: a warning, never a failure
        why = exc.message if isinstance(exc, DestinationError) else " ".join(str(exc).split())
        return (f"the staging table {table.schema}.{stage} could not be removed now "
                f"({why}); it is not part of {table.display}, and the next run removes it")
    return None


def _remove_created(dest: DuckDBDest, identity: tuple[int, int] | None) -> None:
    """Remove the database file this run created -- only if the path still
    names that very file (never one someone else put there since)."""
    if identity is None:
        return
    try:
        st = os.stat(dest.path)
    except FileNotFoundError:
        return
    if (st.st_dev, st.st_ino) != identity:
        return
    for path in (dest.path, dest.path + ".wal"):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
