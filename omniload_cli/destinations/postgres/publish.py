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
  makes them wait for the commit). A table without a primary key (a change
  log append made) has all its rows replaced by the stage's;
- merge:   adds new columns, UPDATEs the rows whose key is in the stage,
  INSERTs the others, and DELETEs the keys the tap sent tombstones for.
  Columns only the table has (a user's own) keep their values, with replace
  too;
- append:  adds new columns, INSERTs the stage (after DELETEing every row
  with --full-refresh: a change log has no key to compare);
- a table that does not exist yet is the stage renamed (its primary key
  renamed after it; dropped for append, a change log repeats keys);

(new columns first, once every stage has passed its checks, for every
table at once: adding one must wait for the
table's readers to let go, and waits in short attempts so as not to hold up
new readers meanwhile, for up to --lock-timeout); writes each table's
bookmark into ``_omniload._state`` and drops the stages.
Any error rolls everything back, and a killed omniload's transaction is
rolled back by the server.  Rows go by column name, so a table whose
columns a user reordered still loads.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from psycopg import sql

from omniload_cli import destinations
from omniload_cli.destinations import DEFAULT_LOCK_TIMEOUT_S, PublishRequest, PublishResult
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
from omniload_cli.errors import DestinationError

# Adding a column takes the lock no reader may share, and while it waits for
# one, every new reader of the table queues behind it: each attempt gives up
# after this long (readers wait no longer), then lets them through for a
# while before the next.
_ATTEMPT_LOCK_TIMEOUT = "500ms"
_BETWEEN_ATTEMPTS_S = 2.0


def publish(con, requests: Sequence[PublishRequest], wait_s: float = DEFAULT_LOCK_TIMEOUT_S) -> list[PublishResult]:
    """wait_s: how long to keep trying to add new columns while other
    sessions' queries or open transactions hold a table (--lock-timeout)."""
    with con.transaction():
        return destinations.publish_in_order(con, requests, catalog, _publish, _remove, state_table.write_state,
                                             after_checks=lambda c, rs: _widen(c, rs, wait_s))


def _widen(con, requests: Sequence[PublishRequest], wait_s: float) -> None:
    """Add to every existing table the columns its stage has and it lacks
    (a property new in the tap's schema; older rows get NULL), all tables
    at once or none: a table widened is locked until the commit, so never
    while the next one waits for its readers."""
    import psycopg

    todo = []
    for r in requests:
        schema, table = r.table.schema, r.table.table
        if table_exists(con, schema, table) and table_exists(con, schema, r.stage):
            have = {name for name, _ in columns(con, schema, table)}
            new = [(name, dtype) for name, dtype in columns(con, schema, r.stage) if name not in have]
            if new:
                _must_own(con, r, [name for name, _ in new])
            todo += [sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                ident(schema, table), sql.Identifier(name), sql.SQL(dtype)) for name, dtype in new]
    if not todo:
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with con.transaction():             # a savepoint: giving up undoes this attempt only
                con.execute(f"SET LOCAL lock_timeout = '{_ATTEMPT_LOCK_TIMEOUT}'")
                for statement in todo:
                    con.execute(statement)
                con.execute("SET LOCAL lock_timeout TO DEFAULT")
            return
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() >= deadline:
                names = ", ".join(r.table.display for r in requests)
                raise DestinationError(
                    f"new columns for {names} could not be added: for {wait_s:g} s other sessions' queries or "
                    f"open transactions on the table kept the moment alone with it that adding a column "
                    f"takes (pg_stat_activity shows them); nothing was changed (a longer --lock-timeout "
                    f"waits longer)") from None
            time.sleep(_BETWEEN_ATTEMPTS_S)


def _must_own(con, r: PublishRequest, new_columns: list[str]) -> None:
    """Only a table's owner may add columns to it: say so, and how, rather
    than PostgreSQL's bare `must be owner of table`."""
    owner, ours = con.execute(
        "SELECT pg_get_userbyid(c.relowner), pg_has_role(current_user, c.relowner, 'USAGE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (r.table.schema, r.table.table)).fetchone()
    if not ours:
        role = con.execute("SELECT current_user").fetchone()[0]
        raise DestinationError(
            f"{r.table.display} needs new columns ({', '.join(new_columns)}), and only its owner may add them: "
            f"run as {owner!r}, or make {role!r} the owner (ALTER TABLE "
            f"{catalog.sql_name(con, r.table.schema)}.{catalog.sql_name(con, r.table.table)} OWNER TO "
            f"{catalog.sql_name(con, role)}); "
            f"nothing was changed")


def _remove(con, r: PublishRequest) -> int:
    """Delete the rows of the tap's tombstones; how many went."""
    return con.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
        ident(r.table.schema, r.table.table), sql.Identifier(r.key)), (list(r.sent.removed),)).rowcount


def _publish(con, r: PublishRequest) -> PublishResult:
    schema, table, stage, strategy, key_column, rebuild = (r.table.schema, r.table.table, r.stage, r.strategy,
                                                           r.key, r.rebuild)
    target, staged = ident(schema, table), ident(schema, stage)
    existed = table_exists(con, schema, table)
    loaded = count_rows(con, schema, stage)
    if not existed:
        _rename_stage(con, schema, stage, table, keep_key=strategy != "append")
        return PublishResult(loaded, loaded, True)
    stage_columns = [name for name, _ in columns(con, schema, stage)]     # the table has them all (_widen)
    names = sql.SQL(", ").join(sql.Identifier(c) for c in stage_columns)
    if strategy == "append":
        if rebuild:
            catalog.delete_rows(con, schema, table)
        con.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, names, names, staged))
    elif (strategy == "replace" or rebuild) and primary_key_name(con, schema, table) is None:
        # A change log (made by append) repeats keys: updated in place, every
        # version of a task would stay. Its rows become the stage's instead.
        catalog.delete_rows(con, schema, table)
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
