"""Making a finished load visible: one transaction per run, whatever the tables.

target-duckdb-omniload writes each table into its stage,
``<schema>._omniload_stage_<table>_<run id>``.  Only after it exited 0 do we
open the database and, in ONE transaction, for every table:

- replace: drop the old table, rename the stage to it;
- merge:   add columns the stage has and the table lacks, delete the rows whose
           key is in the stage, insert the stage (by column name);
- append:  add new columns, insert the stage;

then write the table's state (same transaction) and drop the stage.  So a
reader sees either the old tables and old bookmarks or the new tables and
new bookmarks, never a half-loaded table, never one table of a run without
the others, and never a bookmark ahead of its rows.  Any error rolls
everything back.

The stage is the run's own (its name carries the run's id) and is checked
against what the run sent the loader before anything is published: a stage
that is missing although the loader was told to create it, or that holds
more rows than records were sent, or none although records were sent, fails
the run with nothing changed -- never "published" as an empty copy.  So
does an incremental run's stage (only the changes) whose table was dropped
during the load (destinations.check).

Rows Asana no longer has come as tombstones, kept out of the stage by the
relay (pipeline.py): merge deletes those keys from the table in the same
transaction as the upserts and the bookmark.

Merge keeps the columns a user added to the table: the re-merged rows carry
their old values over (replace swaps in omniload's table, columns and all).

Identifiers come from uri.DestTable (validated) and are quoted regardless.
"""

from __future__ import annotations

from collections.abc import Sequence

from omniload_cli import destinations
from omniload_cli.destinations import PublishRequest, PublishResult
from omniload_cli.destinations.duckdb import catalog
from omniload_cli.destinations.duckdb import state as state_table
from omniload_cli.destinations.duckdb.catalog import columns, count_rows, q, qualified, table_exists


def publish(con, requests: Sequence[PublishRequest]) -> list[PublishResult]:
    """Publish each request's stage into its table and store its state under
    its state_key (None: windowed runs leave the bookmark alone), all in one
    transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        results = destinations.publish_in_order(con, requests, catalog, _publish, _remove,
                                                state_table.write_state)
        con.execute("COMMIT")
    except BaseException:
        # BaseException: a Ctrl-C in the middle must roll back too.
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    return results


def _publish(con, r: PublishRequest) -> PublishResult:
    schema, table, stage, strategy, key, rebuild = (r.table.schema, r.table.table, r.stage, r.strategy, r.key,
                                                    r.rebuild)
    target = qualified(schema, table)
    staged = qualified(schema, stage)
    existed = table_exists(con, schema, table)
    loaded = count_rows(con, schema, stage)
    if strategy == "replace" or rebuild or not existed:
        if existed:
            con.execute(f"DROP TABLE {target}")
        if strategy == "append":
            # A change log must accept the same key twice: no PRIMARY KEY, so
            # copy instead of renaming the (PK-carrying) stage.
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM {staged}")
            con.execute(f"DROP TABLE {staged}")
        else:
            con.execute(f"ALTER TABLE {staged} RENAME TO {q(table)}")
    else:
        have = {name.lower() for name, _ in columns(con, schema, table)}
        for name, dtype in columns(con, schema, stage):
            if name.lower() not in have:
                # A property new in the tap's schema: widen the table; older
                # rows get NULL, as target-duckdb itself would do.
                con.execute(f"ALTER TABLE {target} ADD COLUMN {q(name)} {dtype}")
        if strategy == "merge":
            _merge(con, schema, table, stage, key)
        else:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {staged}")
        con.execute(f"DROP TABLE {staged}")
    return PublishResult(loaded, count_rows(con, schema, table), not existed)


def _remove(con, r: PublishRequest) -> int:
    """Delete the rows of the tap's tombstones; how many went."""
    (deleted,) = con.execute(f"DELETE FROM {qualified(r.table.schema, r.table.table)} WHERE {q(r.key)} IN "
                             f"(SELECT unnest(?::VARCHAR[]))", [list(r.sent.removed)]).fetchall()[0]
    return int(deleted)


def _merge(con, schema: str, table: str, stage: str, key: str) -> None:
    """Upsert the stage on key.  Columns only the table has (a user's own)
    keep their values on the rows the stage replaces."""
    target, staged = qualified(schema, table), qualified(schema, stage)
    in_stage = {name.lower() for name, _ in columns(con, schema, stage)}
    own = [name for name, _ in columns(con, schema, table) if name.lower() not in in_stage]
    if own:
        kept = ", ".join(f"k.{q(c)}" for c in own)
        con.execute(f"CREATE TEMP TABLE _omniload_kept AS SELECT {q(key)}, "
                    f"{', '.join(q(c) for c in own)} FROM {target} "
                    f"WHERE {q(key)} IN (SELECT {q(key)} FROM {staged})")
    con.execute(f"DELETE FROM {target} WHERE {q(key)} IN (SELECT {q(key)} FROM {staged})")
    if own:
        con.execute(f"INSERT INTO {target} BY NAME SELECT s.*, {kept} FROM {staged} s "
                    f"LEFT JOIN _omniload_kept k ON s.{q(key)} = k.{q(key)}")
        con.execute("DROP TABLE _omniload_kept")
    else:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {staged}")
