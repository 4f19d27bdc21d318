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

from omniload_cli.uri import DestTable, DuckDBDest, PostgresDest


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


class Destination(ABC):
    display: str
    loader: str = "duckdb"            # which loader fills it (environments.LOADERS)
    database_kind: str = "DuckDB"     # for messages

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


def publish_in_order(requests: Sequence[PublishRequest], check: Callable[[PublishRequest], None],
                     publish_one: Callable[[PublishRequest], PublishResult]) -> list[PublishResult]:
    """The steps of a publish, inside the destination's one transaction:
    every stage checked before anything changes, then each table published
    (the tests' kill points between them, testhooks.py)."""
    from omniload_cli import testhooks

    for r in requests:
        check(r)
    results = []
    for r in requests:
        results.append(publish_one(r))
        testhooks.at("in-publish")
    testhooks.at("before-commit")
    return results


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
    from omniload_cli.errors import DestinationError

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
