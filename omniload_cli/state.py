"""Run state kept INSIDE the destination database.

Table ``_omniload._state(dest_table PRIMARY KEY, source, state JSON, updated_at)``.
Keeping it next to the data (rather than in a side file) means: a deleted
database starts from scratch, a copied database carries its bookmark along,
and -- because publish.py writes it in the same transaction as the rows --
the bookmark can never be ahead of the data.

``state`` is the last Singer STATE message value tap-asana emitted, stored
as-is and handed back to the tap with ``--state`` on the next run.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

STATE_SCHEMA = "_omniload"
STATE_TABLE = "_state"
_QUALIFIED = f'"{STATE_SCHEMA}"."{STATE_TABLE}"'


def ensure_state_table(con) -> None:
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{STATE_SCHEMA}"')
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_QUALIFIED} ("
        " dest_table VARCHAR PRIMARY KEY,"
        " source VARCHAR NOT NULL,"
        " state JSON,"
        " updated_at TIMESTAMP NOT NULL)")


def state_table_exists(con) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = ? AND table_name = ?", [STATE_SCHEMA, STATE_TABLE]).fetchone()[0] > 0


def read_state(con, dest_table: str) -> tuple[str, dict] | None:
    """(source, state) stored for dest_table, or None.  Read-only: does not
    create the state table, so a failed first run leaves no trace."""
    if not state_table_exists(con):
        return None
    row = con.execute(f"SELECT source, state FROM {_QUALIFIED} WHERE dest_table = ?",
                      [dest_table]).fetchone()
    if row is None:
        return None
    source, state = row
    return source, (json.loads(state) if state else {})


def write_state(con, dest_table: str, source: str, state: dict | None) -> None:
    """Upsert; the caller owns the transaction (see publish.publish)."""
    ensure_state_table(con)
    con.execute(f"DELETE FROM {_QUALIFIED} WHERE dest_table = ?", [dest_table])
    con.execute(
        f"INSERT INTO {_QUALIFIED} VALUES (?, ?, ?, ?)",
        [dest_table, source, json.dumps(state if state is not None else {}),
         datetime.now(timezone.utc).replace(tzinfo=None)])  # UTC, like the data


def delete_state(con, dest_table: str) -> None:
    if state_table_exists(con):
        con.execute(f"DELETE FROM {_QUALIFIED} WHERE dest_table = ?", [dest_table])


def bookmark_of(state: dict | None, stream: str) -> str | None:
    """The replication_key_value for a stream, for messages and the summary."""
    try:
        bm = (state or {}).get("bookmarks", {}).get(stream) or {}
        if "replication_key_value" in bm:
            return str(bm["replication_key_value"])
        if "tasks_modified_since" in bm:  # stories: the watermark of their tasks
            return str(bm["tasks_modified_since"])
        # Partitioned state (should the tap ever partition): the max value.
        values = [str(p["replication_key_value"]) for p in bm.get("partitions", [])
                  if "replication_key_value" in p]
        return max(values) if values else None
    except (AttributeError, TypeError):
        return None
