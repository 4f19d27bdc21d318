"""One way to read either destination from a test: a DuckDB file (a path)
or a PostgreSQL test database (tests.postgres_server.Database).  Each
function goes to tests/duckdb_reader.py or tests/pg_reader.py."""

from __future__ import annotations

from tests import duckdb_reader, pg_reader
from tests.postgres_server import Database


def _reader(db):
    return pg_reader if isinstance(db, Database) else duckdb_reader


def query(db, sql: str, *params) -> list[tuple]:
    return _reader(db).query(db, sql, *params)


def columns(db, name: str) -> dict[str, str]:
    return _reader(db).columns(db, name)


def table_rows(db, name: str):
    return _reader(db).table_rows(db, name)


def snapshot(db) -> dict:
    return _reader(db).snapshot(db)


def loaded_records(db, name: str, key: str = "gid") -> dict[str, dict]:
    return _reader(db).loaded_records(db, name, key)


def stored_state(db, dest_table: str):
    return _reader(db).stored_state(db, dest_table)


def stages(db) -> list[str]:
    """Stage tables left anywhere in the destination."""
    return [name for name in snapshot(db) if "._omniload_stage_" in name]


def execute(db, *statements: str) -> None:
    """Statements as a user would run them (DDL, DML), committed."""
    if isinstance(db, Database):
        with db.connect() as con:
            for statement in statements:
                con.execute(statement)
        return
    import duckdb

    con = duckdb.connect(str(db), config=dict(duckdb_reader.NO_EXTENSION_DOWNLOADS))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
