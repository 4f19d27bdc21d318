"""The DuckDB destination: a database file, filled by target-duckdb-omniload.

Before the load we open the file once: that proves it is writable, not
locked by someone else, and a real DuckDB database (clear errors before any
network call), tells us its catalog name (target-duckdb's `dbname`), reads
the stored state, and drops the stage tables killed runs left.  After a
failed run we undo what we created, so the destination is left as it was.

All of it happens under the run's lock (run_lock.py): no other omniload run
is using the file meanwhile, so every stage table found is abandoned, and a
file this run created is this run's to remove.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from omniload_cli import forked
from omniload_cli.destinations import (
    Destination,
    PreRun,
    PublishRequest,
    PublishResult,
    TableBefore,
    not_a_table,
    undo_warning,
)
from omniload_cli.destinations.duckdb import catalog, files, publish, state
from omniload_cli.destinations.duckdb.run_lock import RunLock
from omniload_cli.errors import DestinationError, with_disk_hint
from omniload_cli.uri import STAGE_PREFIX, DestTable, DuckDBDest

# The loader's tuning.  A batch of Asana tasks costs ~6 KB a row in the
# loader, and DuckDB parses a whole batch at once inside its memory limit:
# bigger batches cost memory and save no CPU.
BATCH_SIZE_ROWS = 500
# DuckDB keeps the growing stage in its buffer pool (80 % of RAM by default):
# capped, it spills to disk instead, and the loader's memory stays flat as the
# workspace grows.
MEMORY_LIMIT = "64MB"
# DuckDB checkpoints every 16 MB of WAL by default, and a checkpoint's cost
# grows with the stage (its open row group is rewritten each time).
CHECKPOINT_THRESHOLD = "1GB"


class DuckDBDestination(Destination):
    loader = "duckdb"
    database_kind = "DuckDB"

    def __init__(self, dest: DuckDBDest) -> None:
        self.dest = dest
        self.display = dest.display

    def check_local(self) -> None:
        files.check_paths(self.dest)

    def run_lock(self, tables: Sequence[DestTable], timeout_s: float, on_wait: Callable[[str], None]) -> RunLock:
        # One lock for the whole file: DuckDB allows one writer per file anyway.
        return RunLock(self.dest.path, self.dest.display, timeout_s=timeout_s, on_wait=on_wait)

    def prepare(self, tables: Sequence[DestTable]) -> PreRun:
        # In a child: the duckdb it loads would otherwise stay in omniload's
        # memory for the whole load (see forked.py).
        return forked.call(self._prepare, list(tables))

    def _prepare(self, tables: list[DestTable]) -> PreRun:
        dest = self.dest
        created = not os.path.exists(dest.path)
        con = files.connect(dest)
        identity = None
        try:
            if created:
                st = os.stat(dest.path)
                identity = (st.st_dev, st.st_ino)
            dbname = con.execute("SELECT current_database()").fetchone()[0]
            before = {table: self._before(con, table) for table in tables}
            # Under the run lock, any stage is a killed run's: its rows must not
            # reach a table, and its space is freed.
            for schema in sorted({table.schema for table in tables}):
                for stage in catalog.tables_with_prefix(con, schema, STAGE_PREFIX):
                    catalog.drop_table(con, schema, stage)
        except DestinationError:
            con.close()
            files.remove_created(dest, identity)
            raise
        except Exception as exc:  # noqa: BLE001 - any DuckDB or OS error: one line, file removed
            con.close()
            files.remove_created(dest, identity)
            raise DestinationError(with_disk_hint(
                f"cannot read the destination {dest.display}: {' '.join(str(exc).split())}")) from None
        con.close()
        return PreRun(before, catalog_name=dbname, created_file=identity)

    def _before(self, con, table: DestTable) -> TableBefore:
        kind = catalog.relation_kind(con, table.schema, table.table)
        if kind not in (None, "table"):
            raise not_a_table(table, kind, self.dest.display)
        return TableBefore(existed=kind == "table", stored=state.read_state(con, table.display),
                           schema_existed=catalog.schema_exists(con, table.schema),
                           identity=catalog.table_identity(con, table.schema, table.table))

    def loader_config(self, schema: str, pre: PreRun, scratch: Path) -> dict:
        return {
            "path": self.dest.path,
            "dbname": pre.catalog_name,           # file stems with dots need it
            "default_target_schema": schema,
            "add_metadata_columns": False,        # an exact copy: Asana's columns only
            "batch_size_rows": BATCH_SIZE_ROWS,
            "settings": {"memory_limit": MEMORY_LIMIT, "checkpoint_threshold": CHECKPOINT_THRESHOLD},
            "temp_dir": str(scratch),             # batch files die with the run's private dir
            "storage_compatibility_version": self.dest.storage_version,
        }

    def publish(self, requests: Sequence[PublishRequest]) -> list[PublishResult]:
        con = files.connect(self.dest)
        try:
            return publish.publish(con, requests)
        finally:
            con.close()

    def undo(self, stages: Sequence[tuple[DestTable, str]], pre: PreRun | None) -> str | None:
        if pre is None:
            return None
        if pre.created_file is not None:
            # This run created the file and failed: remove every trace.
            try:
                files.remove_created(self.dest, pre.created_file)
            except OSError as exc:
                return f"the database file {self.dest.display} this run created could not be removed: {exc}"
            return None
        try:
            con = files.connect(self.dest)
            try:
                for table, stage in stages:
                    catalog.drop_table(con, table.schema, stage)
                for schema in sorted({table.schema for table, _ in stages}):
                    created = not any(b.schema_existed for t, b in pre.tables.items() if t.schema == schema)
                    if (created and catalog.schema_exists(con, schema)
                            and not catalog.tables_with_prefix(con, schema, "")):
                        con.execute(f"DROP SCHEMA {catalog.q(schema)}")
            finally:
                con.close()
        except Exception as exc:  # noqa: BLE001 - best effort: a warning, never a failure
            return undo_warning(stages, exc)
        return None
