"""One `ingest`, step by step (`run` reads as this list):

1. check the destination locally, then take its run lock;
2. look at the destination: stored bookmark, abandoned stages (`prepare`);
3. decide whether the bookmark applies (`choose_bookmark`);
4. write the tap's and the loader's configs into a private directory;
5. the catalog, with only this table's stream selected;
6. extract: tap | relay | loader, filling this run's stage (`extract`);
7. publish the stage and the new bookmark in one transaction (`publish`);
8. the summary.

The order matters: everything that can be checked locally (URIs, names,
dates, strategy, the database file and its lock) is checked before the first
network call, and nothing in the destination changes until the loader has
exited 0.  On any failure or interrupt the children are stopped, the private
directory is removed and the destination is put back as it was.
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
from omniload_cli.bookmarks import bookmark_of
from omniload_cli.destinations import Destination, PreRun, PublishRequest, PublishResult, Sent, StageMismatch
from omniload_cli.destinations.duckdb.run_lock import DEFAULT_TIMEOUT_S
from omniload_cli.errors import LoadError, OmniloadError, SourceError, with_disk_hint
from omniload_cli.pipeline import PipeResult
from omniload_cli.progress import Progress
from omniload_cli.secrets import PrivateDir, Scrubber
from omniload_cli.summary import Summary
from omniload_cli.tables import Table
from omniload_cli.uri import AsanaSource, DestTable, DuckDBDest, to_iso

# Tap settings a user may tune through OMNILOAD_TAP_SETTINGS (JSON); the ones
# omniload owns (token, workspace, stream maps, window) cannot be overridden.
_OWNED = {"access_token", "workspace_gid", "stream_maps", "start_date", "end_date", "api_url"}


@dataclass
class Plan:
    source: AsanaSource
    table: Table
    dest: DuckDBDest
    dest_table: DestTable
    strategy: str
    full_refresh: bool = False
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    progress: str = "interactive"
    lock_timeout: float = DEFAULT_TIMEOUT_S

    @property
    def windowed(self) -> bool:
        return self.interval_start is not None or self.interval_end is not None

    @property
    def source_id(self) -> str:
        """What the stored state belongs to (token-free)."""
        return f"{self.source.display}/{self.table.name}"


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
    tap_exe, target_exe = environments.executables()
    tap_overrides = tap_settings_override()
    dest = destinations.for_uri(plan.dest)
    dest.check_local()      # before waiting for a lock on it
    with dest.run_lock(plan.lock_timeout, on_wait=lambda msg: err.write(f"omniload: {msg}\n")):
        testhooks.at("locked")
        return _run_locked(plan, dest, tap_exe, target_exe, tap_overrides, started, err)


def _run_locked(plan: Plan, dest: Destination, tap_exe: str, target_exe: str, tap_overrides: dict,
                started: float, err) -> Summary:
    t, dt = plan.table, plan.dest_table
    stage = dt.stage(token_hex(4))   # this run's own
    pre = dest.prepare(dt, state_key=dt.display)
    stored_state, notes = choose_bookmark(plan, pre)

    scrub = Scrubber(plan.source.access_token)
    private = PrivateDir()
    progress = Progress(plan.progress, t.name, err)
    ok = False
    try:
        tap_config_path = private.write_json("tap-config.json", tap_config(plan, stage, progress, tap_overrides))
        target_config_path = private.write_json(
            "target-config.json", dest.loader_config(dt, pre, Path(private.subdir("target-tmp"))))
        env = pipeline.child_env(plan.source.access_token)
        for n in notes:
            progress.note(f"omniload: {n}")
        progress.header = header(plan, stored_state)

        catalog = pipeline.select_only(catalog_cache.cached_discover(
            tap_exe, str(sources.home()),
            lambda: pipeline.discover(tap_exe, tap_config_path, env, scrub)), t.name)
        tap_argv = [tap_exe, "--config", tap_config_path,
                    "--catalog", private.write_json("catalog.json", catalog)]
        if stored_state is not None:
            tap_argv += ["--state", private.write_json("state.json", stored_state)]

        result = extract(plan, tap_argv, [target_exe, "--config", target_config_path], env,
                         stage=stage, scrub=scrub, progress=progress, secret_files=(tap_config_path,))
        testhooks.at("before-publish")
        published = publish(plan, dest, stage, result, scrub)
        ok = True
        testhooks.at("after-commit")
        return summarize(plan, result, published, time.monotonic() - started)
    finally:
        private.cleanup()
        if not ok:
            warning = dest.undo(dt, stage, pre)
            if warning:
                err.write(f"omniload: warning: {warning}\n")


def choose_bookmark(plan: Plan, pre: PreRun) -> tuple[dict | None, list[str]]:
    """The stored state this run starts from (None: a full extract), and
    notes saying why a stored one is not used."""
    t, dt = plan.table, plan.dest_table
    notes = []
    if plan.interval_start is not None and plan.interval_start > datetime.now(timezone.utc):
        notes.append(f"warning: --interval-start {to_iso(plan.interval_start)} is in the future: "
                     f"no task can have been modified since then, so nothing will be loaded")
    incremental = t.is_incremental(plan.strategy) and not plan.full_refresh and not plan.windowed
    if not incremental or pre.stored is None:
        return None, notes
    stored_source, stored = pre.stored
    if not pre.table_existed:
        notes.append(f"{dt.display} no longer exists; ignoring its stored bookmark (full extract)")
        return None, notes
    if stored_source != plan.source_id:
        notes.append(f"the stored bookmark of {dt.display} belongs to {stored_source}; full extract")
        return None, notes
    return stored, notes


def tap_config(plan: Plan, stage: str, progress: Progress, overrides: dict) -> dict:
    t = plan.table
    config = {
        "access_token": plan.source.access_token,
        "workspace_gid": plan.source.workspace_gid,
        # Rename the stream to the staging table: target-duckdb names each
        # table after its stream, so the alias is the table it fills.
        "stream_maps": {t.name: {"__alias__": stage}},
        "progress_interval_seconds": max(1, int(progress.interval)),
        **overrides,
    }
    if t.tap_setting and t.is_incremental(plan.strategy):
        # Also on a full refresh: that run then records the watermark the
        # next (incremental) run starts from.
        config[t.tap_setting] = True
    if plan.source.api_url:
        config["api_url"] = plan.source.api_url
    start = to_iso(plan.interval_start) if plan.interval_start else plan.source.start_date
    if start:
        config["start_date"] = start
    if plan.interval_end:
        config["end_date"] = to_iso(plan.interval_end)
    return config


def header(plan: Plan, stored_state: dict | None) -> str:
    """The progress display's first line: what this run is about to do."""
    how = f"{plan.strategy}" + (" (full refresh)" if plan.full_refresh else "")
    bookmark = bookmark_of(stored_state, plan.table.name)
    if plan.windowed:
        how += f", modified_at window {to_iso(plan.interval_start) if plan.interval_start else '-'}" \
               f" .. {to_iso(plan.interval_end) if plan.interval_end else 'now'}"
    elif bookmark:
        how += f", changes since {bookmark}"
    return (f"omniload: {plan.source.display} / {plan.table.name} -> {plan.dest.display} "
            f"{plan.dest_table.display} ({how})")


def extract(plan: Plan, tap_argv: list[str], target_argv: list[str], env: dict, *, stage: str,
            scrub: Scrubber, progress: Progress, secret_files: tuple[str, ...]) -> PipeResult:
    testhooks.at("before-load")
    progress.start()
    try:
        result = pipeline.run(tap_argv, target_argv, env, stage_stream=stage, scrub=scrub,
                              progress=progress, secret_files=secret_files)
    finally:
        progress.stop()
    if plan.table.name in result.dropped_streams:
        raise SourceError("tap-asana ignored the stream alias (stream_maps); "
                          "refusing to publish an empty copy")
    return result


def publish(plan: Plan, dest: Destination, stage: str, result: PipeResult, scrub: Scrubber) -> PublishResult:
    """The loader exited 0: rows and bookmark into the destination, in one transaction."""
    dt = plan.dest_table
    request = PublishRequest(
        table=dt, stage=stage,
        # --full-refresh rebuilds the table; a change log (append) stays one.
        strategy="replace" if plan.full_refresh and plan.strategy != "append" else plan.strategy,
        key=plan.table.primary_key, rebuild=plan.full_refresh,
        state_key=None if plan.windowed else dt.display,
        source=plan.source_id, state=result.last_state,
        sent=Sent(result.records, result.schema_sent, tuple(result.removed_keys)))
    try:
        return dest.publish(request)
    except OmniloadError:
        raise
    except StageMismatch as exc:
        raise LoadError(f"refusing to publish {dt.display}: {exc} (another process changed "
                        f"the database during the load); nothing was changed") from None
    except Exception as exc:  # noqa: BLE001 - any database error: one line, rolled back
        raise LoadError(with_disk_hint(f"publishing {dt.display} failed, nothing was changed: "
                                       f"{scrub(' '.join(str(exc).split()))}")) from None


def summarize(plan: Plan, result: PipeResult, published: PublishResult, duration_s: float) -> Summary:
    return Summary(
        source=f"{plan.source.display} / {plan.table.name}",
        destination=f"{plan.dest.display} -> {plan.dest_table.display}",
        strategy=_describe(plan, published.created),
        rows_loaded=result.records,
        rows_in_table=published.rows_in_table,
        rows_removed=published.rows_removed,
        duration_s=duration_s,
        bookmark=None if plan.windowed else bookmark_of(result.last_state, plan.table.name),
    )


def _describe(plan: Plan, created: bool) -> str:
    s = plan.strategy
    if plan.full_refresh:
        s += " (full refresh: stored state ignored, table rebuilt)"
    elif plan.windowed:
        s += " (windowed run: bookmark unchanged)"
    elif plan.table.is_incremental(s):
        s += f" (incremental on {plan.table.incremental_key})"
    if created:
        s += ", table created"
    return s
