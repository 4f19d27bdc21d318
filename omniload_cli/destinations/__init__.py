"""Destinations: where a run's rows and bookmark go, and how they get there.

Every destination keeps the same promises, whatever the database:

- one run at a time per destination (`run_lock`), held from
  before the first look at the destination until after the last clean-up;
- nothing the user can see changes while the loader runs: the loader fills
  a stage of this run's own (`prepare` clears stages killed runs left);
- `publish` makes the stages visible and stores the bookmarks in ONE
  transaction, after checking each stage is what this run sent, so the
  tables of one run are one consistent copy;
- after a failure, `undo` puts back what the run created.

A destination also says how its loader (a Singer target in an environment of
its own) must be configured to fill the stage.  `for_uri` picks the
implementation for a parsed --dest-uri.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from omniload_cli.errors import DestinationError
from omniload_cli.uri import RESERVED_SCHEMA, DestTable, DuckDBDest, PostgresDest

# Where every destination keeps the bookmarks: _omniload._state.
STATE_SCHEMA = RESERVED_SCHEMA
STATE_TABLE = "_state"
# How long a run waits for another run on the same destination (--lock-timeout).
DEFAULT_LOCK_TIMEOUT_S = 600.0


class StageMismatch(Exception):
    """The stage is not what this run's loader wrote: publishing would lose data."""


@dataclass(frozen=True)
class Sent:
    """What the run handed the loader for its stage."""
    records: int
    schema: bool      # a SCHEMA message went through: the loader created the stage
    removed: tuple[str, ...] = ()   # keys of rows Asana no longer has (merge deletes them)


@dataclass
class TableBefore:
    """One destination table before the load."""
    existed: bool
    stored: tuple[str, dict] | None   # (source, state) stored for it
    schema_existed: bool = True
    # What tells the table from another created under its name since
    # (Catalog.table_identity); None: it did not exist.
    identity: object = None


@dataclass
class PreRun:
    """What the destination looked like before the load (see `prepare`)."""
    tables: dict[DestTable, TableBefore]
    catalog_name: str = ""            # the database's own name, for loaders that need it
    created_file: tuple[int, int] | None = None   # a file this run created: (st_dev, st_ino)


@dataclass
class PublishResult:
    rows_loaded: int       # rows in the stage (what this run brought)
    rows_in_table: int     # rows in the destination table afterwards
    created: bool          # the destination table did not exist before
    rows_removed: int = 0  # rows deleted for the tombstones the tap sent


@dataclass(frozen=True)
class PublishRequest:
    table: DestTable
    stage: str
    strategy: str               # replace | merge | append
    key: str                    # primary key column
    rebuild: bool               # --full-refresh: the old table goes whatever the strategy
    state_key: str | None       # None: leave the bookmark alone (windowed runs)
    source: str                 # what the state belongs to (token-free)
    state: dict | None
    sent: Sent
    # The table as prepare saw it when the stage holds only the changes since
    # its stored bookmark (an incremental run): publishing is then right only
    # into that very table.  None: the stage is a whole copy.
    on_top_of: TableBefore | None = None


class Catalog(Protocol):
    """The catalog questions a publish asks (each destination's catalog module)."""

    def table_exists(self, con, schema: str, name: str) -> bool: ...

    def count_rows(self, con, schema: str, name: str) -> int: ...

    def table_identity(self, con, schema: str, name: str) -> object: ...

    def delete_rows(self, con, schema: str, name: str) -> None: ...

    def create_key_table(self, con, schema: str, name: str, key: str) -> None: ...


class Destination(ABC):
    display: str

    @property
    @abstractmethod
    def loader(self) -> str:
        """Which loader fills it (environments.LOADERS)."""

    @property
    @abstractmethod
    def database_kind(self) -> str:
        """What the destination is, for messages (DuckDB, PostgreSQL)."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """What the destination URI holds that no output may show (a password)."""
        return ()

    @abstractmethod
    def check_local(self) -> None:
        """Checks that need no connection (a path, a file's kind): before the lock."""

    @abstractmethod
    def run_lock(self, tables: Sequence[DestTable], timeout_s: float,
                 on_wait: Callable[[str], None]) -> AbstractContextManager:
        """Held for the whole run over tables: a second run on any of them
        waits, or fails after timeout_s."""

    @abstractmethod
    def prepare(self, tables: Sequence[DestTable]) -> PreRun:
        """Open the destination once before the load: it is usable, each name
        is free for a table, the stored states (each under its table's
        display name), abandoned stages dropped."""

    @abstractmethod
    def loader_config(self, schema: str, pre: PreRun, scratch: Path) -> dict:
        """The loader's config for filling stages in schema; scratch is a
        private directory that dies with the run."""

    @abstractmethod
    def publish(self, requests: Sequence[PublishRequest]) -> list[PublishResult]:
        """Every stage + bookmark into its table, all in ONE transaction.
        Raises StageMismatch (nothing changed) when a stage is not this run's."""

    @abstractmethod
    def undo(self, stages: Sequence[tuple[DestTable, str]], pre: PreRun | None) -> str | None:
        """Best effort after a failed run: (table, its stage) for each table
        the run was loading; a warning to show, or None."""


def for_uri(dest: DuckDBDest | PostgresDest) -> Destination:
    if isinstance(dest, PostgresDest):
        from omniload_cli.destinations.postgres import PostgresDestination

        return PostgresDestination(dest)
    from omniload_cli.destinations.duckdb import DuckDBDestination

    return DuckDBDestination(dest)


def not_a_table(table: DestTable, kind: str, display: str) -> DestinationError:
    """The error for a destination name that holds something else than a table."""
    return DestinationError(f"{table.display} is a {kind} in {display}; omniload loads into tables: choose "
                            f"another --dest-table, or drop the {kind}", exit_code=2)


def publish_in_order(con, requests: Sequence[PublishRequest], catalog: Catalog,
                     publish_table: Callable[[Any, PublishRequest], PublishResult],
                     remove: Callable[[Any, PublishRequest], int],
                     write_state: Callable[[Any, str, str, dict | None], None],
                     after_checks: Callable[[Any, Sequence[PublishRequest]], None] | None = None,
                     ) -> list[PublishResult]:
    """The steps of a publish on con, inside the destination's one
    transaction: every request checked before anything changes (`check`),
    then each table: its stage (publish_table; a source without one is
    empty), the rows of the tap's
    tombstones out of a merged table (remove: how many went) and its
    bookmark (none for a windowed run); the tests' kill points between them
    (testhooks.py). after_checks: what the destination does to every table
    once all checks passed, before the first is published."""
    from omniload_cli import testhooks

    for r in requests:
        check(con, r, catalog)
    if after_checks is not None:
        after_checks(con, requests)
    results = []
    for r in requests:
        if catalog.table_exists(con, r.table.schema, r.stage):
            result = publish_table(con, r)
        else:
            result = _publish_empty_source(con, r, catalog)
        if r.strategy == "merge" and not r.rebuild and r.sent.removed:
            result.rows_removed = remove(con, r)
            result.rows_in_table -= result.rows_removed
        if r.state_key is not None:
            write_state(con, r.state_key, r.source, r.state)
        results.append(result)
        testhooks.at("in-publish")
    testhooks.at("before-commit")
    return results


def _publish_empty_source(con, r: PublishRequest, catalog: Catalog) -> PublishResult:
    """No stage: the tap sent no SCHEMA for the stream, so the source has no
    rows and no column list to offer (check made sure the loader made none).
    A replaced table is emptied, a new one has just its key."""
    schema, table = r.table.schema, r.table.table
    existed = catalog.table_exists(con, schema, table)
    if existed and (r.strategy == "replace" or r.rebuild):
        catalog.delete_rows(con, schema, table)
    elif not existed:
        catalog.create_key_table(con, schema, table, r.key)
    return PublishResult(0, catalog.count_rows(con, schema, table), not existed)


def check(con, r: PublishRequest, catalog: Catalog) -> None:
    """Refuse (StageMismatch) a request whose publish would lose data: its
    stage is not what this run's loader wrote, or it brings only changes and
    the table they belong to is gone or was replaced during the load (the
    stage renamed into place would be a table of the changes alone, under
    a bookmark that says it is whole)."""
    schema = r.table.schema
    rows = catalog.count_rows(con, schema, r.stage) if catalog.table_exists(con, schema, r.stage) else None
    check_stage(f"{schema}.{r.stage}", r.sent, rows)
    if r.on_top_of is not None:
        now = catalog.table_identity(con, schema, r.table.table)
        if now is None:
            raise StageMismatch(f"{r.table.display} was dropped during the load, and this run brought only "
                                f"the changes since its bookmark (the next run extracts it whole)")
        if now != r.on_top_of.identity:
            raise StageMismatch(f"{r.table.display} was dropped and created anew during the load, and this "
                                f"run brought only the changes since its bookmark (--full-refresh rebuilds it)")


def check_stage(name: str, sent: Sent, rows: int | None) -> None:
    """Refuse a stage that is not what this run's loader wrote: rows is its
    row count, None when it does not exist.  Missing is fine only when the
    loader was sent no SCHEMA (so created nothing); more rows than records
    sent, or none although records were sent, means someone else changed it."""
    if rows is None:
        if sent.schema:
            raise StageMismatch(f"the staging table {name} is gone although the loader created it")
        return
    if rows > sent.records:
        raise StageMismatch(f"the staging table {name} holds {rows} rows, more than the "
                            f"{sent.records} records this run loaded")
    if sent.records and not rows:
        raise StageMismatch(f"the staging table {name} is empty although this run loaded "
                            f"{sent.records} records")


def undo_warning(stages: Sequence[tuple[DestTable, str]], exc: Exception, who: str = "the next run") -> str:
    """The warning of an undo that could not drop the run's stages."""
    why = exc.message if isinstance(exc, DestinationError) else " ".join(str(exc).split())
    names = ", ".join(f"{table.schema}.{stage}" for table, stage in stages)
    return (f"the staging tables ({names}) could not be removed now ({why}); they are not "
            f"part of any table, and {who} removes them")


def waiting_message(holder: int | None, what: str, timeout_s: float) -> str:
    """What a run that waits for another says (once)."""
    return (f"waiting for the run with PID {holder or '?'} to finish with {what} "
            f"(at most {timeout_s:g} s; --lock-timeout)")


def busy_message(holder: int | None, what: str, timeout_s: float) -> str:
    """The error of a run that waited --lock-timeout seconds in vain."""
    who = f"the omniload run with PID {holder}" if holder else "another omniload run"
    if timeout_s <= 0:
        return f"{who} is using {what}; nothing was changed (--lock-timeout SECONDS waits for it instead)"
    return (f"{who} is still using {what} after {timeout_s:g} s of waiting; "
            f"nothing was changed (a longer --lock-timeout waits longer)")
