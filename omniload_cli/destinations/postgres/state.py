"""Run state kept INSIDE the PostgreSQL database, beside the data.

Table ``_omniload._state(dest_table PRIMARY KEY, source, state jsonb,
updated_at timestamptz)``, written by the publish transaction together
with the rows, as in a DuckDB file (destinations/duckdb/state.py says why).
Runs on different tables of one database publish at the same time; the
first one creates the schema and table under a transaction-scoped advisory
lock, so two first runs never race on the CREATE.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from omniload_cli.destinations import STATE_SCHEMA, STATE_TABLE
from omniload_cli.destinations.postgres.catalog import ident, one, table_exists

_QUALIFIED = ident(STATE_SCHEMA, STATE_TABLE)


def read_state(con, dest_table: str) -> tuple[str, dict] | None:
    """(source, state) stored for dest_table, or None.  Creates nothing."""
    if not table_exists(con, STATE_SCHEMA, STATE_TABLE):
        return None
    from psycopg import sql

    row = one(con, sql.SQL("SELECT source, state FROM {} WHERE dest_table = %s").format(_QUALIFIED),
              (dest_table,))
    if row is None:
        return None
    source, state = row
    return source, (state or {})


def write_state(con, dest_table: str, source: str, state: dict | None) -> None:
    """Upsert; the caller owns the transaction."""
    from psycopg import sql

    from omniload_cli.destinations.postgres.run_lock import key

    if not table_exists(con, STATE_SCHEMA, STATE_TABLE):
        con.execute("SELECT pg_advisory_xact_lock(%s, %s)", key(f"{STATE_SCHEMA}.{STATE_TABLE}"))
        con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(STATE_SCHEMA)))
        con.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (dest_table text PRIMARY KEY, source text NOT NULL, "
                            "state jsonb, updated_at timestamptz NOT NULL)").format(_QUALIFIED))
    con.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, now()) ON CONFLICT (dest_table) DO UPDATE "
                        "SET source = EXCLUDED.source, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at")
                .format(_QUALIFIED), (dest_table, source, Jsonb(state if state is not None else {})))
