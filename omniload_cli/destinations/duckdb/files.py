"""The DuckDB database file: what it must be before a run, opening it, removing it.

DuckDB allows one writing process per file and target-duckdb needs that lock,
so omniload never holds a connection while the loader runs; it opens the
file briefly before (checks, state) and after (publish, undo).

Every connection is opened with DuckDB's extension auto-install and
auto-load off: a destination must never make DuckDB download code (opening
an SQLite file, for one, would fetch the sqlite extension and attach it).
"""

from __future__ import annotations

import os
import re

from omniload_cli.errors import DestinationError, with_disk_hint
from omniload_cli.uri import DuckDBDest

# Given to every duckdb.connect() omniload and its loader make.
NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False,
                          "autoload_known_extensions": False}

_DUCKDB_MAGIC = b"DUCK"          # bytes 8..12 of every DuckDB database file
_OTHER_FORMATS = ((b"SQLite format 3\0", "an SQLite database"), (b"PAR1", "a Parquet file"),
                  (b"PK\x03\x04", "a zip archive"), (b"\x89HDF", "an HDF5 file"))


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


def remove_created(dest: DuckDBDest, identity: tuple[int, int] | None) -> None:
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
