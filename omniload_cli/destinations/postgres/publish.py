"""Making a finished load visible in PostgreSQL: one transaction per run.

target-postgres-omniload fills each table's stage,
``<schema>._omniload_stage_<table>_<run id>`` (committing batch by batch:
the stage is no table anyone reads).  Once it exited 0, omniload, on the
run's own connection and in ONE transaction for every table of the run:

- checks each stage is what this run sent, and that an incremental run's
  table is the one prepare saw (its oid), as destinations.check says;
- replace (and --full-refresh): adds the stage's new columns to the table
  and makes its rows the stage's: DELETEs the rows whose key the stage
  lacks, then merges the stage (below).  The table itself stays -- its
  views, grants, indexes, constraints, triggers, comments, owner and column
  types with it -- and so does every row Asana still has: a user's foreign
  key to the table is not broken (nor, ON DELETE CASCADE, the rows it
  protects deleted) by a replace.  Readers keep reading the old rows until
  the commit (DML blocks no reader; only adding a column takes a lock that
  makes them wait for the commit);
- merge:   adds new columns, UPDATEs the rows whose key is in the stage,
  INSERTs the others, and DELETEs the keys the tap sent tombstones for.
  Columns only the table has (a user's own) keep their values, with replace
  too;
- append:  adds new columns, INSERTs the stage (after DELETEing every row
  with --full-refresh: a change log has no key to compare);
- a table that does not exist yet is the stage renamed (its primary key
  renamed after it; dropped for append, a change log repeats keys);

writes each table's bookmark into ``_omniload._state`` and drops the stages.
Any error rolls everything back, and a killed omniload's transaction is
rolled back by the server.  Rows go by column name, so a table whose
columns a user reordered still loads.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from omniload_cli import destinations
from omniload_cli.destinations import PublishRequest, PublishResult
from omniload_cli.destinations.postgres import catalog
from omniload_cli.destinations.postgres import state as state_table
from omniload_cli.destinations.postgres.catalog import (
    columns,
    count_rows,
    ident,
    name_taken,
    primary_key_name,
    table_exists,
)


def publish(con, requests: Sequence[PublishRequest]) -> list[PublishResult]:
    with con.transaction():
        return destinations.publish_in_order(con, requests, catalog, _publish, _remove, state_table.write_state)


def _remove(con, r: PublishRequest) -> int:
    """Delete the rows of the tap's tombstones; how many went."""
    return con.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
        ident(r.table.schema, r.table.table), sql.Identifier(r.key)), (list(r.sent.removed),)).rowcount


def _publish(con, r: PublishRequest) -> PublishResult:
    schema, table, stage, strategy, key_column, rebuild = (r.table.schema, r.table.table, r.stage, r.strategy,
                                                           r.key, r.rebuild)
    target, staged = ident(schema, table), ident(schema, stage)
    existed = table_exists(con, schema, table)
    if not table_exists(con, schema, stage):
        # No SCHEMA for the stream, so no stage: the source has no rows and no column list.
        if existed and (strategy == "replace" or rebuild):
            con.execute(sql.SQL("DELETE FROM {}").format(target))
        elif not existed:
            con.execute(sql.SQL("CREATE TABLE {} ({} text PRIMARY KEY)").format(target, sql.Identifier(key_column)))
        return PublishResult(0, count_rows(con, schema, table), not existed)

    loaded = count_rows(con, schema, stage)
    if not existed:
        _rename_stage(con, schema, stage, table, keep_key=strategy != "append")
        return PublishResult(loaded, loaded, True)
    stage_columns = [name for name, _ in columns(con, schema, stage)]
    _add_new_columns(con, schema, table, stage)
    names = sql.SQL(", ").join(sql.Identifier(c) for c in stage_columns)
    if strategy == "append":
        if rebuild:
            con.execute(sql.SQL("DELETE FROM {}").format(target))
        con.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, names, names, staged))
    else:
        if strategy == "replace" or rebuild:
            # Only what the stage lacks goes: rows that stay are updated in place.
            k = sql.Identifier(key_column)
            con.execute(sql.SQL("DELETE FROM {} t WHERE NOT EXISTS (SELECT 1 FROM {} s WHERE s.{} = t.{})").format(
                target, staged, k, k))
        _merge(con, target, staged, stage_columns, key_column)
    con.execute(sql.SQL("DROP TABLE {}").format(staged))
    return PublishResult(loaded, count_rows(con, schema, table), False)


def _rename_stage(con, schema: str, stage: str, table: str, *, keep_key: bool) -> None:
    pkey = primary_key_name(con, schema, stage)
    con.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(ident(schema, stage), sql.Identifier(table)))
    if pkey is None:
        return
    if not keep_key:
        # A change log must accept the same key twice.
        con.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(ident(schema, table), sql.Identifier(pkey)))
    elif not name_taken(con, schema, f"{table}_pkey"):
        con.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            ident(schema, table), sql.Identifier(pkey), sql.Identifier(f"{table}_pkey")))


def _add_new_columns(con, schema: str, table: str, stage: str) -> None:
    """A property new in the tap's schema widens the table; older rows get NULL."""
    have = {name for name, _ in columns(con, schema, table)}
    for name, dtype in columns(con, schema, stage):
        if name not in have:
            con.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                ident(schema, table), sql.Identifier(name), sql.SQL(dtype)))


def _merge(con, target, staged, stage_columns: list[str], key_column: str) -> None:
    """Upsert on the key, by column name: the table's other columns keep their values."""
    k = sql.Identifier(key_column)
    others = [c for c in stage_columns if c != key_column]
    if others:
        assignments = sql.SQL(", ").join(sql.SQL("{} = s.{}").format(sql.Identifier(c), sql.Identifier(c))
                                         for c in others)
        con.execute(sql.SQL("UPDATE {} t SET {} FROM {} s WHERE t.{} = s.{}").format(
            target, assignments, staged, k, k))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in stage_columns)
    prefixed = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in stage_columns)
    con.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s WHERE NOT EXISTS "
                        "(SELECT 1 FROM {} t WHERE t.{} = s.{})").format(
        target, names, prefixed, staged, target, k, k))
