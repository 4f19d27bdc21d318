"""One `ingest`: plan -> check destination -> tap|target into stage -> publish.

The order matters: everything that can be checked locally (URIs, names,
dates, strategy, the database file and its lock) is checked before the first
network call, and nothing in the destination changes until the loader has
exited 0 -- then publish.py swaps/merges and stores the new bookmark in one
transaction.  On any failure or interrupt the children are stopped, the
private temp dir is removed and the destination is put back as it was.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from secrets import token_hex

from omniload_cli import catalog_cache, destination, pipeline, publish, testhooks
from omniload_cli.errors import LoadError, OmniloadError, SourceError, with_disk_hint
from omniload_cli.progress import Progress
from omniload_cli.run_lock import DEFAULT_TIMEOUT_S, RunLock
from omniload_cli.secrets import PrivateDir, Scrubber
from omniload_cli.state import bookmark_of
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


def omniload_home() -> str:
    return os.environ.get("OMNILOAD_HOME") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".omniload")


def executables() -> tuple[str, str]:
    home = omniload_home()
    tap = os.environ.get("OMNILOAD_TAP_EXECUTABLE") or os.path.join(home, "envs", "tap", "bin", "tap-asana")
    target = os.environ.get("OMNILOAD_TARGET_EXECUTABLE") or os.path.join(
        home, "envs", "target", "bin", "target-duckdb-omniload")
    for exe, what in ((tap, "tap-asana"), (target, "target-duckdb-omniload")):
        if not os.access(exe, os.X_OK):
            raise OmniloadError(f"{what} is not installed ({exe}); run ./omniload setup")
    return tap, target


def _tap_settings_override() -> dict:
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
    """The whole run under the destination's lock (see run_lock.py)."""
    err = err or sys.stderr
    started = time.monotonic()
    tap_exe, target_exe = executables()
    tap_overrides = _tap_settings_override()
    destination.check_paths(plan.dest)      # before waiting for a lock on it
    with RunLock(plan.dest.path, plan.dest.display, timeout_s=plan.lock_timeout,
                 on_wait=lambda msg: err.write(f"omniload: {msg}\n")):
        testhooks.at("locked")
        return _run_locked(plan, tap_exe, target_exe, tap_overrides, started, err)


def _run_locked(plan: Plan, tap_exe: str, target_exe: str, tap_overrides: dict,
                started: float, err) -> Summary:
    t, dt = plan.table, plan.dest_table
    state_key = dt.display
    stage = dt.stage(token_hex(4))   # this run's own

    pre = destination.prepare(plan.dest, dt, state_key)     # local checks first
    stored_state = None
    notes = []
    if plan.interval_start is not None and plan.interval_start > datetime.now(timezone.utc):
        notes.append(f"warning: --interval-start {to_iso(plan.interval_start)} is in the future: "
                     f"no task can have been modified since then, so nothing will be loaded")
    incremental = (t.is_incremental(plan.strategy)
                   and not plan.full_refresh and not plan.windowed)
    if incremental and pre.stored is not None:
        stored_source, stored = pre.stored
        if not pre.table_existed:
            notes.append(f"{dt.display} no longer exists; ignoring its stored bookmark (full extract)")
        elif stored_source != plan.source_id:
            notes.append(f"the stored bookmark of {dt.display} belongs to {stored_source}; full extract")
        else:
            stored_state = stored

    scrub = Scrubber(plan.source.access_token)
    private = PrivateDir()
    progress = Progress(plan.progress, t.name, err)
    ok = False
    try:
        tap_config = {
            "access_token": plan.source.access_token,
            "workspace_gid": plan.source.workspace_gid,
            # Rename the stream to the staging table: target-duckdb names
            # each table after its stream, so the alias is the table it fills.
            "stream_maps": {t.name: {"__alias__": stage}},
            "progress_interval_seconds": max(1, int(progress.interval)),
            **tap_overrides,
        }
        if t.tap_setting and t.is_incremental(plan.strategy):
            # Also on a full refresh: that run then records the watermark
            # the next (incremental) run starts from.
            tap_config[t.tap_setting] = True
        if plan.source.api_url:
            tap_config["api_url"] = plan.source.api_url
        start = to_iso(plan.interval_start) if plan.interval_start else plan.source.start_date
        if start:
            tap_config["start_date"] = start
        if plan.interval_end:
            tap_config["end_date"] = to_iso(plan.interval_end)
        tap_config_path = private.write_json("tap-config.json", tap_config)
        target_config_path = private.write_json("target-config.json", {
            "path": plan.dest.path,
            "dbname": pre.dbname,                 # file stems with dots need it
            "default_target_schema": dt.schema,
            "add_metadata_columns": False,        # an exact copy: Asana's columns only
            # Flat memory: a batch of Asana tasks is ~6 KB a row in the loader;
            # bigger batches cost memory and save no CPU (measured).
            "batch_size_rows": 2000,
            # DuckDB keeps the growing staging table in its buffer pool (80 %
            # of RAM by default): capped, it spills instead, and the loader's
            # memory stays flat as the workspace grows (100k tasks: 1.1 GB ->
            # 0.66 GB peak, same time).
            # DuckDB checkpoints every 16 MB of WAL by default, and a
            # checkpoint's cost grows with the stage (its open row group is
            # rewritten): the loader alone on 100k tasks, 34 s -> 30 s.
            "settings": {"memory_limit": "512MB", "checkpoint_threshold": "1GB"},
            "temp_dir": private.subdir("target-tmp"),  # CSV batches die with the dir
            "storage_compatibility_version": plan.dest.storage_version,
        })
        env = pipeline.child_env(plan.source.access_token)

        for n in notes:
            progress.note(f"omniload: {n}")
        bookmark = bookmark_of(stored_state, t.name)
        how = f"{plan.strategy}" + (" (full refresh)" if plan.full_refresh else "")
        if plan.windowed:
            how += f", modified_at window {to_iso(plan.interval_start) if plan.interval_start else '-'}" \
                   f" .. {to_iso(plan.interval_end) if plan.interval_end else 'now'}"
        elif bookmark:
            how += f", changes since {bookmark}"
        progress.header = (f"omniload: {plan.source.display} / {t.name} -> {plan.dest.display} "
                           f"{dt.display} ({how})")

        catalog = pipeline.select_only(catalog_cache.cached_discover(
            tap_exe, omniload_home(),
            lambda: pipeline.discover(tap_exe, tap_config_path, env, scrub)), t.name)
        tap_argv = [tap_exe, "--config", tap_config_path,
                    "--catalog", private.write_json("catalog.json", catalog)]
        if stored_state is not None:
            tap_argv += ["--state", private.write_json("state.json", stored_state)]
        target_argv = [target_exe, "--config", target_config_path]

        testhooks.at("before-load")
        progress.start()
        try:
            result = pipeline.run(tap_argv, target_argv, env, stage_stream=stage,
                                  scrub=scrub, progress=progress,
                                  secret_files=(tap_config_path,))
        finally:
            progress.stop()
        if t.name in result.dropped_streams:
            raise SourceError("tap-asana ignored the stream alias (stream_maps); "
                              "refusing to publish an empty copy")

        # The loader exited 0: publish rows + state in one transaction.
        testhooks.at("before-publish")
        con = destination.connect(plan.dest)
        try:
            pub = publish.publish(
                con, schema=dt.schema, table=dt.table, stage=stage,
                strategy=("replace" if plan.full_refresh and plan.strategy != "append"
                          else plan.strategy),
                rebuild=plan.full_refresh, key=t.primary_key,
                state_key=None if plan.windowed else state_key,
                source=plan.source_id, state=result.last_state,
                sent=publish.Sent(result.records, result.schema_sent,
                                 tuple(result.removed_keys)))
        except OmniloadError:
            raise
        except publish.StageMismatch as exc:
            raise LoadError(f"refusing to publish {dt.display}: {exc} (another process changed "
                            f"the database during the load); nothing was changed") from None
        except Exception as exc:  # noqa: BLE001 - any DuckDB error: one line, rolled back
            raise LoadError(with_disk_hint(f"publishing {dt.display} failed, nothing was changed: "
                                           f"{scrub(' '.join(str(exc).split()))}")) from None
        finally:
            con.close()
        ok = True
        testhooks.at("after-commit")
        new_bookmark = None if plan.windowed else bookmark_of(result.last_state, t.name)
        return Summary(
            source=f"{plan.source.display} / {t.name}",
            destination=f"{plan.dest.display} -> {dt.display}",
            strategy=_describe(plan, pub.created),
            rows_loaded=result.records,
            rows_in_table=pub.rows_in_table,
            rows_removed=pub.rows_removed,
            duration_s=time.monotonic() - started,
            bookmark=new_bookmark,
        )
    finally:
        private.cleanup()
        if not ok:
            warning = destination.undo(plan.dest, dt, stage, pre)
            if warning:
                err.write(f"omniload: warning: {warning}\n")


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
