"""Reading DuckDB files from the tests: the one way every test looks at a
destination.

Connections are read-only and, like every connection omniload and the
loader open, have DuckDB's extension auto-install and auto-load off: a test
that reads a file must not download or load anything either (see
tests/reliability/test_network.py).

Every function takes a path, or a connection the test already holds open
(DuckDB refuses a second connection to a file that one process has open
with other settings); a path is opened and closed around each call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb

NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

Source = str | Path | duckdb.DuckDBPyConnection


def connect(db: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to db, extensions neither installed nor loaded."""
    return duckdb.connect(str(db), read_only=True, config=dict(NO_EXTENSION_DOWNLOADS))


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    con = connect(source)
    try:
        yield con
    finally:
        con.close()


def _split(name: str) -> tuple[str, str]:
    schema, table = name.split(".")
    return schema, table


def _quoted(schema: str, table: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


def query(source: Source, sql: str, *params) -> list[tuple]:
    with _opened(source) as con:
        return con.execute(sql, list(params)).fetchall()


def columns(source: Source, name: str) -> dict[str, str]:
    """column -> DuckDB type of table name ("schema.table"), in table order."""
    return {c: kind for c, kind, *_ in query(source, f"DESCRIBE {_quoted(*_split(name))}")}


def _contents(con, schema: str, table: str) -> tuple[list[str], list[str]]:
    cols = [c for c, *_ in con.execute(f"DESCRIBE {_quoted(schema, table)}").fetchall()]
    return cols, sorted(map(repr, con.execute(f"SELECT * FROM {_quoted(schema, table)}").fetchall()))


def table_rows(source: Source, name: str) -> tuple[list[str], list[str]] | None:
    """(columns, sorted reprs of the rows) of one table, None if it does not
    exist: two copies compare equal exactly when they hold the same rows."""
    schema, table = _split(name)
    with _opened(source) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                           [schema, table]).fetchone()[0]:
            return None
        return _contents(con, schema, table)


def snapshot(source: Source) -> dict[str, tuple[list[str], list[str]]]:
    """table_rows of every table, the state table included: compare before/after."""
    with _opened(source) as con:
        return {f"{schema}.{table}": _contents(con, schema, table) for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2").fetchall()}


def rows_by_key(source: Source, name: str, key: str = "gid") -> dict:
    """{key value: {column: value}} of every row, values as DuckDB hands them out."""
    with _opened(source) as con:
        cur = con.execute(f"SELECT * FROM {_quoted(*_split(name))}")
        cols = [d[0] for d in cur.description]
        return {row[cols.index(key)]: dict(zip(cols, row)) for row in cur.fetchall()}


def loaded_records(source: Source, name: str, key: str = "gid") -> dict[str, dict]:
    """rows_by_key, JSON columns as the values they hold: DuckDB hands a JSON
    column out as its text, and the data is the value (nested objects and
    arrays), not the text's spacing."""
    kinds = columns(source, name)
    return {k: {c: json.loads(v) if kinds[c] == "JSON" and v is not None else v for c, v in row.items()}
            for k, row in rows_by_key(source, name, key).items()}


def stored_state(source: Source, dest_table: str) -> tuple[dict, object] | None:
    """(state, updated_at) that omniload stored for dest_table, or None."""
    with _opened(source) as con:
        try:
            row = con.execute('SELECT state, updated_at FROM "_omniload"."_state" WHERE dest_table = ?',
                              [dest_table]).fetchone()
        except duckdb.CatalogException:
            return None
    return (json.loads(row[0]), row[1]) if row else None


def diff_rows(db_a: Source, db_b: Source, name: str, key: str = "gid", limit: int = 10) -> list:
    """Where two copies of a table differ: [(key, column, a, b)], for messages."""
    (ca, ra), (cb, rb) = ((list(columns(db, name)), rows_by_key(db, name, key)) for db in (db_a, db_b))
    out = []
    if ca != cb:
        out.append(("<columns>", "", ca, cb))
    for k in sorted(set(ra) | set(rb)):
        a, b = ra.get(k), rb.get(k)
        if a is None or b is None:
            out.append((k, "<row>", a is not None, b is not None))
            continue
        out += [(k, c, a[c], b.get(c)) for c in ca if a[c] != b.get(c)]
    return out[:limit]
