"""One `ingest` of one or more tables, step by step (`run` reads as this list):

1. check the destination locally, make sure the tap's and the loader's
   environments are built, then take the destination's run lock;
2. look at the destination: stored bookmarks, abandoned stages (`prepare`);
3. decide, table by table, whether its bookmark applies (`choose_bookmark`);
4. write the tap's and the loader's configs (in memory: they hold secrets)
   and the run's other files into a private directory;
5. the catalog, with exactly the requested tables' streams selected;
6. extract: ONE tap | relay | loader, filling this run's stage of every
   table (`extract`); the tap lists each thing once for all the tables;
7. publish every stage and its new bookmark in one transaction (`publish`);
8. the summary.

The order matters: everything that can be checked locally (URIs, names,
dates, strategies, the database file and its lock) is checked before the
first network call, and nothing in the destination changes until the loader
has exited 0.  On any failure or interrupt the children are stopped, the
private directory is removed and the destination is put back as it was:
after a run, either every table and bookmark is new or none is.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from secrets import token_hex

from omniload_cli import catalog_cache, destinations, environments, pipeline, sources, testhooks
from omniload_cli.bookmarks import bookmark_of, merged_state, stream_state
from omniload_cli.destinations import (
    DEFAULT_LOCK_TIMEOUT_S,
    Destination,
    PreRun,
    PublishRequest,
    PublishResult,
    Sent,
    StageMismatch,
    TableBefore,
)
from omniload_cli.errors import LoadError, OmniloadError, SourceError, with_disk_hint
from omniload_cli.pipeline import PipeResult
from omniload_cli.progress import Progress
from omniload_cli.secrets import PrivateDir, Scrubber, in_memory
from omniload_cli.summary import Summary, TableSummary
from omniload_cli.tables import Table
from omniload_cli.uri import AsanaSource, DestTable, DuckDBDest, PostgresDest, to_iso

# Tap settings a user may tune through OMNILOAD_TAP_SETTINGS (JSON); the ones
# omniload owns (token, workspace, stream maps, window) cannot be overridden.
_OWNED = {"access_token", "workspace_gid", "stream_maps", "start_date", "end_date", "api_url"}


@dataclass(frozen=True)
class TablePlan:
    table: Table
    dest_table: DestTable
    strategy: str


@dataclass
class Plan:
    source: AsanaSource
    tables: tuple[TablePlan, ...]
    dest: DuckDBDest | PostgresDest
    full_refresh: bool = False
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    progress: str = "interactive"
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S

    @property
    def windowed(self) -> bool:
        return self.interval_start is not None or self.interval_end is not None

    def source_id(self, table: Table) -> str:
        """What a table's stored state belongs to (token-free)."""
        return f"{self.source.display}/{table.name}"

    @property
    def label(self) -> str:
        return ",".join(tp.table.name for tp in self.tables)


def tap_settings_override() -> dict:
    """OMNILOAD_TAP_SETTINGS (a JSON object), minus the settings omniload owns."""
    import json
    raw = os.environ.get("OMNILOAD_TAP_SETTINGS")
    if not raw:
        return {}
    try:
        extra = json.loads(raw)
        assert isinstance(extra, dict)
    except (ValueError, AssertionError):
        raise OmniloadError("OMNILOAD_TAP_SETTINGS must be a JSON object", exit_code=2) from None
    return {k: v for k, v in extra.items() if k not in _OWNED}


def run(plan: Plan, *, err=None) -> Summary:
    """The whole run under the destination's run lock."""
    err = err or sys.stderr
    started = time.monotonic()
    tap_overrides = tap_settings_override()
    dest = destinations.for_uri(plan.dest)
    dest.check_local()      # before building anything, and before waiting for a lock on it
    tap_exe, target_exe = environments.executables(loader=dest.loader)
    with dest.run_lock([tp.dest_table for tp in plan.tables], plan.lock_timeout,
                       on_wait=lambda msg: err.write(f"omniload: {msg}\n")):
        testhooks.at("locked")
        return _run_locked(plan, dest, tap_exe, target_exe, tap_overrides, started, err)


def _run_locked(plan: Plan, dest: Destination, tap_exe: str, target_exe: str, tap_overrides: dict,
                started: float, err) -> Summary:
    run_id = token_hex(4)
    stages = {tp.table.name: tp.dest_table.stage(run_id) for tp in plan.tables}   # this run's own
    pre = dest.prepare([tp.dest_table for tp in plan.tables])
    stored: dict[str, dict] = {}
    notes: list[str] = []
    for tp in plan.tables:
        state, why = choose_bookmark(plan, tp, pre)
        notes += why
        if state is not None:
            stored[tp.table.name] = state

    scrub = Scrubber(plan.source.access_token, *dest.secrets)
    private = PrivateDir()
    progress = Progress(plan.progress, plan.label if len(plan.tables) == 1 else f"{len(plan.tables)} tables",
                        err, tables={stages[tp.table.name]: tp.table.name for tp in plan.tables})
    ok = False
    try:
        # The configs hold the token and the database password: in memory (secrets.py).
        tap_config_path = private.write_config("tap-config.json", tap_config(plan, stages, tap_overrides))
        schema = plan.tables[0].dest_table.schema     # one schema per run (the CLI makes sure)
        target_config_path = private.write_config(
            "target-config.json", dest.loader_config(schema, pre, Path(private.subdir("target-tmp"))))
        env = pipeline.child_env(plan.source.access_token, *dest.secrets)
        for n in notes:
            progress.note(f"omniload: {n}")
        progress.header = header(plan, stored)

        catalog = pipeline.select_streams(catalog_cache.cached_discover(
            tap_exe, str(sources.home()),
            lambda: pipeline.discover(tap_exe, tap_config_path, env, scrub)), list(stages))
        tap_argv = [tap_exe, "--config", tap_config_path,
                    "--catalog", private.write_json("catalog.json", catalog)]
        if stored:
            tap_argv += ["--state", private.write_json("state.json", merged_state(stored.values()))]

        on_disk = () if in_memory(tap_config_path) else (tap_config_path,)
        result = extract(plan, tap_argv, [target_exe, "--config", target_config_path], env,
                         stages=stages, scrub=scrub, progress=progress, secret_files=on_disk,
                         into=dest.database_kind)
        testhooks.at("before-publish")
        published = publish(plan, dest, stages, result, scrub,
                            on_top_of={tp.table.name: pre.tables[tp.dest_table] for tp in plan.tables
                                       if tp.table.name in stored})
        ok = True
        testhooks.at("after-commit")
        return summarize(plan, stages, result, published, time.monotonic() - started)
    finally:
        private.cleanup()
        if not ok:
            warning = dest.undo([(tp.dest_table, stages[tp.table.name]) for tp in plan.tables], pre)
            if warning:
                err.write(f"omniload: warning: {warning}\n")


def choose_bookmark(plan: Plan, tp: TablePlan, pre: PreRun) -> tuple[dict | None, list[str]]:
    """The stored state a table starts from (None: a full extract), and
    notes saying why a stored one is not used."""
    t, dt = tp.table, tp.dest_table
    notes = []
    if plan.interval_start is not None and plan.interval_start > datetime.now(timezone.utc):
        notes.append(f"warning: --interval-start {to_iso(plan.interval_start)} is in the future: "
                     f"no task can have been modified since then, so nothing will be loaded")
    before = pre.tables[dt]
    incremental = t.is_incremental(tp.strategy) and not plan.full_refresh and not plan.windowed
    if not incremental or before.stored is None:
        return None, notes
    stored_source, stored = before.stored
    if not before.existed:
        notes.append(f"{dt.display} no longer exists; ignoring its stored bookmark (full extract)")
        return None, notes
    if stored_source != plan.source_id(t):
        notes.append(f"the stored bookmark of {dt.display} belongs to {stored_source}; full extract")
        return None, notes
    return stream_state(stored, t.name), notes


def tap_config(plan: Plan, stages: dict[str, str], overrides: dict) -> dict:
    config = {
        "access_token": plan.source.access_token,
        "workspace_gid": plan.source.workspace_gid,
        # Rename each stream to its staging table: target-duckdb names each
        # table after its stream, so the alias is the table it fills.
        "stream_maps": {name: {"__alias__": stage} for name, stage in stages.items()},
        # Every second, whatever omniload's own interval: the request count
        # a progress line shows is then at most a second old.
        "progress_interval_seconds": 1,
        **overrides,
    }
    for tp in plan.tables:
        if tp.table.tap_setting and tp.table.is_incremental(tp.strategy):
            # Also on a full refresh: that run then records the watermark the
            # next (incremental) run starts from.
            config[tp.table.tap_setting] = True
    if plan.source.api_url:
        config["api_url"] = plan.source.api_url
    start = to_iso(plan.interval_start) if plan.interval_start else plan.source.start_date
    if start:
        config["start_date"] = start
    if plan.interval_end:
        config["end_date"] = to_iso(plan.interval_end)
    return config


def header(plan: Plan, stored: dict[str, dict]) -> str:
    """The progress display's first line: what this run is about to do."""
    hows = []
    for tp in plan.tables:
        how = tp.strategy + (" (full refresh)" if plan.full_refresh else "")
        bookmark = bookmark_of(stored.get(tp.table.name), tp.table.name)
        if plan.windowed:
            how += f", modified_at window {to_iso(plan.interval_start) if plan.interval_start else '-'}" \
                   f" .. {to_iso(plan.interval_end) if plan.interval_end else 'now'}"
        elif bookmark:
            how += f", changes since {bookmark}"
        hows.append(f"{tp.dest_table.display} ({how})" if len(plan.tables) == 1
                    else f"{tp.table.name} -> {tp.dest_table.display} ({how})")
    if len(plan.tables) == 1:
        return f"omniload: {plan.source.display} / {plan.label} -> {plan.dest.display} {hows[0]}"
    return f"omniload: {plan.source.display} -> {plan.dest.display}: " + "; ".join(hows)


def extract(plan: Plan, tap_argv: list[str], target_argv: list[str], env: dict, *, stages: dict[str, str],
            scrub: Scrubber, progress: Progress, secret_files: tuple[str, ...], into: str = "DuckDB") -> PipeResult:
    testhooks.at("before-load")
    progress.start()
    try:
        result = pipeline.run(tap_argv, target_argv, env, stage_streams=set(stages.values()), scrub=scrub,
                              progress=progress, secret_files=secret_files, into=into,
                              loader=os.path.basename(target_argv[0]))
    finally:
        progress.stop()
    ignored = set(stages) & result.dropped_streams
    if ignored:
        raise SourceError("tap-asana ignored the stream alias (stream_maps) of "
                          f"{', '.join(sorted(ignored))}; refusing to publish an empty copy")
    return result


def publish(plan: Plan, dest: Destination, stages: dict[str, str], result: PipeResult,
            scrub: Scrubber, on_top_of: dict[str, TableBefore]) -> list[PublishResult]:
    """The loader exited 0: every table's rows and bookmark into the
    destination, in one transaction.  on_top_of: the tables (as prepare saw
    them) whose stage holds only the changes since their stored bookmark."""
    requests = []
    for tp in plan.tables:
        stage = stages[tp.table.name]
        sent = result.streams.get(stage) or pipeline.StreamResult()
        requests.append(PublishRequest(
            table=tp.dest_table, stage=stage,
            # --full-refresh rebuilds the table; a change log (append) stays one.
            strategy="replace" if plan.full_refresh and tp.strategy != "append" else tp.strategy,
            key=tp.table.primary_key, rebuild=plan.full_refresh,
            state_key=None if plan.windowed else tp.dest_table.display,
            source=plan.source_id(tp.table), state=stream_state(result.last_state, tp.table.name),
            sent=Sent(sent.records, sent.schema_sent, tuple(sent.removed_keys)),
            on_top_of=on_top_of.get(tp.table.name)))
    names = ", ".join(tp.dest_table.display for tp in plan.tables)
    try:
        return dest.publish(requests)
    except OmniloadError:
        raise
    except StageMismatch as exc:
        raise LoadError(f"refusing to publish {names}: {exc} (another process changed "
                        f"the database during the load); nothing was changed") from None
    except Exception as exc:  # noqa: BLE001 - any database error: one line, rolled back
        raise LoadError(with_disk_hint(f"publishing {names} failed, nothing was changed: "
                                       f"{scrub(' '.join(str(exc).split()))}")) from None


def summarize(plan: Plan, stages: dict[str, str], result: PipeResult, published: list[PublishResult],
              duration_s: float) -> Summary:
    tables = []
    for tp, pub in zip(plan.tables, published):
        sent = result.streams.get(stages[tp.table.name]) or pipeline.StreamResult()
        tables.append(TableSummary(
            source=f"{plan.source.display} / {tp.table.name}",
            destination=f"{plan.dest.display} -> {tp.dest_table.display}",
            strategy=_describe(plan, tp, pub.created),
            rows_loaded=sent.records,
            rows_in_table=pub.rows_in_table,
            rows_removed=pub.rows_removed,
            bookmark=None if plan.windowed else bookmark_of(result.last_state, tp.table.name),
        ))
    return Summary(tables, duration_s)


def _describe(plan: Plan, tp: TablePlan, created: bool) -> str:
    s = tp.strategy
    if plan.full_refresh:
        s += " (full refresh: stored state ignored, table rebuilt)"
    elif plan.windowed:
        s += " (windowed run: bookmark unchanged)"
    elif tp.table.is_incremental(s):
        s += f" (incremental on {tp.table.incremental_key})"
    if created:
        s += ", table created"
    return s
