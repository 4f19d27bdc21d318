"""What is in a DuckDB database: every catalog query omniload makes, in one place.

Each asks about the connection's own database (`current_database()`): a file
may have others attached, and a table of the same name in one of those is
not ours.  Identifiers are quoted wherever they reach SQL text.
"""

from __future__ import annotations


def q(ident: str) -> str:
    """Quote an SQL identifier (double quotes doubled)."""
    return '"' + ident.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{q(schema)}.{q(table)}"


def _count(con, sql: str, params: list) -> int:
    return con.execute(sql, params).fetchone()[0]


def table_exists(con, schema: str, table: str) -> bool:
    return _count(con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
                       " AND schema_name = ? AND table_name = ?", [schema, table]) > 0


def table_identity(con, schema: str, table: str) -> str | None:
    """What tells the table from another created under its name since: a
    DuckDB file can only say its name (its oids change with each connection)."""
    return f"{schema}.{table}" if table_exists(con, schema, table) else None


def view_exists(con, schema: str, name: str) -> bool:
    return _count(con, "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database()"
                       " AND schema_name = ? AND view_name = ?", [schema, name]) > 0


def relation_kind(con, schema: str, name: str) -> str | None:
    """'table', 'view' or None for schema.name."""
    if table_exists(con, schema, name):
        return "table"
    return "view" if view_exists(con, schema, name) else None


def schema_exists(con, schema: str) -> bool:
    return _count(con, "SELECT count(*) FROM duckdb_schemas() WHERE database_name = current_database()"
                       " AND schema_name = ?", [schema]) > 0


def tables_with_prefix(con, schema: str, prefix: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = ? AND starts_with(table_name, ?)", [schema, prefix]).fetchall()
    return [r[0] for r in rows]


def columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column, in order."""
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = ? AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()


def count_rows(con, schema: str, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchone()[0]


def drop_table(con, schema: str, table: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {qualified(schema, table)}")


def delete_rows(con, schema: str, table: str) -> None:
    con.execute(f"DELETE FROM {qualified(schema, table)}")


def create_key_table(con, schema: str, table: str, key: str) -> None:
    """A table of just its key (what an empty source without columns makes)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    con.execute(f"CREATE TABLE {qualified(schema, table)} ({q(key)} VARCHAR PRIMARY KEY)")
