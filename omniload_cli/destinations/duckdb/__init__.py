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
from collections.abc import Callable
from pathlib import Path

from omniload_cli.destinations import Destination, PreRun, PublishRequest, PublishResult
from omniload_cli.destinations.duckdb import catalog, files, publish, state
from omniload_cli.destinations.duckdb.run_lock import RunLock
from omniload_cli.errors import DestinationError, with_disk_hint
from omniload_cli.uri import STAGE_PREFIX, DestTable, DuckDBDest

# The loader's tuning.  A batch of Asana tasks costs ~6 KB a row in the
# loader: bigger batches cost memory and save no CPU.
BATCH_SIZE_ROWS = 2000
# DuckDB keeps the growing stage in its buffer pool (80 % of RAM by default):
# capped, it spills to disk instead, and the loader's memory stays flat as the
# workspace grows.
MEMORY_LIMIT = "512MB"
# DuckDB checkpoints every 16 MB of WAL by default, and a checkpoint's cost
# grows with the stage (its open row group is rewritten each time).
CHECKPOINT_THRESHOLD = "1GB"


class DuckDBDestination(Destination):
    def __init__(self, dest: DuckDBDest) -> None:
        self.dest = dest
        self.display = dest.display

    def check_local(self) -> None:
        files.check_paths(self.dest)

    def run_lock(self, timeout_s: float, on_wait: Callable[[str], None]) -> RunLock:
        return RunLock(self.dest.path, self.dest.display, timeout_s=timeout_s, on_wait=on_wait)

    def prepare(self, table: DestTable, state_key: str) -> PreRun:
        dest = self.dest
        created = not os.path.exists(dest.path)
        con = files.connect(dest)
        identity = None
        try:
            if created:
                st = os.stat(dest.path)
                identity = (st.st_dev, st.st_ino)
            dbname = con.execute("SELECT current_database()").fetchone()[0]
            kind = catalog.relation_kind(con, table.schema, table.table)
            if kind not in (None, "table"):
                raise DestinationError(
                    f"{table.display} is a {kind} in {dest.display}; omniload loads into tables: "
                    f"choose another --dest-table, or drop the {kind}", exit_code=2)
            pre = PreRun(table_existed=kind == "table", stored=state.read_state(con, state_key),
                         schema_existed=catalog.schema_exists(con, table.schema),
                         catalog_name=dbname, created_file=identity)
            # Under the run lock, any stage is a killed run's: its rows must not
            # reach a table, and its space is freed.
            for stage in catalog.tables_with_prefix(con, table.schema, STAGE_PREFIX):
                catalog.drop_table(con, table.schema, stage)
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
        return pre

    def loader_config(self, table: DestTable, pre: PreRun, scratch: Path) -> dict:
        return {
            "path": self.dest.path,
            "dbname": pre.catalog_name,           # file stems with dots need it
            "default_target_schema": table.schema,
            "add_metadata_columns": False,        # an exact copy: Asana's columns only
            "batch_size_rows": BATCH_SIZE_ROWS,
            "settings": {"memory_limit": MEMORY_LIMIT, "checkpoint_threshold": CHECKPOINT_THRESHOLD},
            "temp_dir": str(scratch),             # batch files die with the run's private dir
            "storage_compatibility_version": self.dest.storage_version,
        }

    def publish(self, request: PublishRequest) -> PublishResult:
        con = files.connect(self.dest)
        try:
            return publish.publish(con, request)
        finally:
            con.close()

    def undo(self, table: DestTable, stage: str, pre: PreRun | None) -> str | None:
        if pre is None:
            return None
        try:
            if pre.created_file is not None:
                # This run created the file and failed: remove every trace.
                files.remove_created(self.dest, pre.created_file)
                return None
            con = files.connect(self.dest)
            try:
                catalog.drop_table(con, table.schema, stage)
                if (not pre.schema_existed and catalog.schema_exists(con, table.schema)
                        and not catalog.tables_with_prefix(con, table.schema, "")):
                    con.execute(f"DROP SCHEMA {catalog.q(table.schema)}")
            finally:
                con.close()
        except Exception as exc:  # noqa: BLE001 - best effort: a warning, never a failure
            why = exc.message if isinstance(exc, DestinationError) else " ".join(str(exc).split())
            return (f"the staging table {table.schema}.{stage} could not be removed now "
                    f"({why}); it is not part of {table.display}, and the next run removes it")
        return None
