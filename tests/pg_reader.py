"""Reading a PostgreSQL test database: the same functions as tests/duckdb_reader.py.

Connections are the superuser's (so a test sees what it checks whatever the
loading role may see).  Values come back as psycopg hands them out: jsonb
as Python values, timestamptz as aware datetimes (UTC: the session's
TimeZone), numeric as Decimal.  SQL may use ``?`` placeholders, as the
DuckDB tests do.
"""

from __future__ import annotations

from tests.postgres_server import Database


def _sql(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


def query(db: Database, sql: str, *params) -> list[tuple]:
    with db.connect() as con:
        con.execute("SET TIME ZONE 'UTC'")
        cur = con.execute(_sql(sql), params or None)
        return cur.fetchall() if cur.description else []


def _split(name: str) -> tuple[str, str]:
    schema, table = name.split(".")
    return schema, table


def columns(db: Database, name: str) -> dict[str, str]:
    """column -> type as format_type() spells it, in table order."""
    schema, table = _split(name)
    return dict(query(db, "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                          "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped "
                          "ORDER BY a.attnum", schema, table))


def _quoted(schema: str, table: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


def _user_tables(db: Database) -> list[tuple[str, str]]:
    return query(db, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                     "('pg_catalog', 'information_schema') ORDER BY 1, 2")


def table_rows(db: Database, name: str) -> tuple[list[str], list[str]] | None:
    """(columns, sorted reprs of the rows), None if there is no such table."""
    if tuple(_split(name)) not in {tuple(t) for t in _user_tables(db)}:
        return None
    cols = list(columns(db, name))
    return cols, sorted(map(repr, query(db, f"SELECT * FROM {_quoted(*_split(name))}")))


def snapshot(db: Database) -> dict[str, tuple[list[str], list[str]]]:
    """table_rows of every table, the state table included: compare before/after."""
    out = {}
    for schema, table in _user_tables(db):
        rows = table_rows(db, f"{schema}.{table}")
        assert rows is not None
        out[f"{schema}.{table}"] = rows
    return out


def rows_by_key(db: Database, name: str, key: str = "gid") -> dict:
    with db.connect() as con:
        con.execute("SET TIME ZONE 'UTC'")
        cur = con.execute(f"SELECT * FROM {_quoted(*_split(name))}")
        cols = [d.name for d in cur.description]
        return {row[cols.index(key)]: dict(zip(cols, row)) for row in cur.fetchall()}


def loaded_records(db: Database, name: str, key: str = "gid") -> dict[str, dict]:
    """rows_by_key: jsonb already comes back as the values it holds."""
    return rows_by_key(db, name, key)


def stored_state(db: Database, dest_table: str) -> tuple[dict, object] | None:
    if ("_omniload", "_state") not in {tuple(t) for t in _user_tables(db)}:
        return None
    rows = query(db, 'SELECT state, updated_at FROM "_omniload"."_state" WHERE dest_table = ?', dest_table)
    return rows[0] if rows else None
