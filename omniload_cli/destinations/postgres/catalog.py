"""What is in the PostgreSQL database: every catalog query omniload makes, in one place.

Names are compared as stored (omniload's names are lower case and quoted
wherever they reach SQL text: psycopg.sql.Identifier).
"""

from __future__ import annotations

import re

from psycopg import sql

_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table",
          "S": "sequence", "i": "index", "I": "index", "c": "composite type"}


def ident(*names: str) -> sql.Composable:
    """schema.table (or one name), quoted."""
    return sql.SQL(".").join(sql.Identifier(n) for n in names)


def one(con, query, params=()) -> tuple | None:
    return con.execute(query, params).fetchone()


def relation_kind(con, schema: str, name: str) -> str | None:
    row = one(con, "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = %s AND c.relname = %s", (schema, name))
    return None if row is None else _KINDS.get(row[0], "relation")


def table_exists(con, schema: str, name: str) -> bool:
    return relation_kind(con, schema, name) == "table"


def table_identity(con, schema: str, name: str) -> int | None:
    """The table's oid: a table dropped and created anew under its name has another."""
    row = one(con, "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')", (schema, name))
    return None if row is None else int(row[0])


def schema_exists(con, schema: str) -> bool:
    return one(con, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)) is not None


def stages_of(con, schema: str, prefix: str) -> list[str]:
    """Tables of schema named <prefix><8 hex digits>: one table's stages."""
    rows = con.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND starts_with(c.relname, %s)",
                       (schema, prefix)).fetchall()
    own = re.compile(re.escape(prefix) + r"[0-9a-f]{8}$")
    return sorted(name for (name,) in rows if own.match(name))


def columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type as SQL spells it) of each column, in order."""
    return con.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table)).fetchall()


def primary_key_name(con, schema: str, table: str) -> str | None:
    row = one(con, "SELECT k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = %s AND c.relname = %s AND k.contype = 'p'", (schema, table))
    return row[0] if row else None


def name_taken(con, schema: str, name: str) -> bool:
    """A relation (table, index, ...) or constraint of schema is called name."""
    return relation_kind(con, schema, name) is not None or one(
        con, "SELECT 1 FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace "
             "WHERE n.nspname = %s AND k.conname = %s", (schema, name)) is not None


def count_rows(con, schema: str, table: str) -> int:
    return con.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(schema, table))).fetchone()[0]


def drop_table(con, schema: str, table: str) -> None:
    con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident(schema, table)))


def delete_rows(con, schema: str, table: str) -> None:
    con.execute(sql.SQL("DELETE FROM {}").format(ident(schema, table)))


def create_key_table(con, schema: str, table: str, key: str) -> None:
    """A table of just its key (what an empty source without columns makes)."""
    con.execute(sql.SQL("CREATE TABLE {} ({} text PRIMARY KEY)").format(ident(schema, table), sql.Identifier(key)))


def may(con, check: str, *args: str | int) -> bool:
    """has_<check>_privilege(current_user, *args): may the session's role do that?"""
    function = {"database": "has_database_privilege", "schema": "has_schema_privilege",
                "table": "has_table_privilege"}[check]
    placeholders = ", ".join(["%s"] * len(args))
    row = one(con, f"SELECT {function}({placeholders})", args)
    return bool(row and row[0])


def schema_owner(con, schema: str) -> str | None:
    row = one(con, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (schema,))
    return row[0] if row else None


def sql_name(con, name: str) -> str:
    """name as SQL text spells it (quoted where it must be), for GRANT lines."""
    return con.execute("SELECT quote_ident(%s)", (name,)).fetchone()[0]
