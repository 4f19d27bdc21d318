"""Run state kept INSIDE the destination database.

Table ``_omniload._state(dest_table PRIMARY KEY, source, state JSON, updated_at)``.
Keeping it next to the data (rather than in a side file) means: a deleted
database starts from scratch, a copied database carries its bookmark along,
and -- because the publish writes it in the same transaction as the rows --
the bookmark can never be ahead of the data.

``state`` is the table's part of the last Singer STATE message tap-asana
emitted (its stream's bookmark: one tap extracts several tables), handed
back to the tap with ``--state`` on the next run, merged with the other
tables' parts.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from omniload_cli.destinations import STATE_SCHEMA, STATE_TABLE
from omniload_cli.destinations.duckdb.catalog import q, qualified, table_exists

_QUALIFIED = qualified(STATE_SCHEMA, STATE_TABLE)


def ensure_state_table(con) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(STATE_SCHEMA)}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_QUALIFIED} ("
        " dest_table VARCHAR PRIMARY KEY,"
        " source VARCHAR NOT NULL,"
        " state JSON,"
        " updated_at TIMESTAMP NOT NULL)")


def read_state(con, dest_table: str) -> tuple[str, dict] | None:
    """(source, state) stored for dest_table, or None.  Read-only: does not
    create the state table, so a failed first run leaves no trace."""
    if not table_exists(con, STATE_SCHEMA, STATE_TABLE):
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
