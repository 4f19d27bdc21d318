from __future__ import annotations

import itertools
import typing as t
from collections.abc import Iterator
from datetime import datetime, timezone

from tap_asana import timestamps
from tap_asana.concurrency import FULL_RECORD_WORKERS, merge_parallel
from tap_asana.snapshots import decode_snapshot, encode_snapshot
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import skip_if_deleted, workspace_must_exist
from tap_asana.task_index import IndexedTask, fingerprint, index_opt_fields
from tap_asana.tombstones import task_tombstone

SNAPSHOT_KEY = "snapshot"  # in the stream's state: {workspace gid: encoded {gid: fingerprint}}


class TasksStream(AsanaStream):
    """Every task in the workspace's projects, incremental on `modified_at`.

    The first run lists `GET /tasks?project={gid}` for every project. Later
    runs take the compact task index of every project (task_index.py) and
    compare it with the snapshot the previous run left in the state: tasks
    modified since the bookmark, new to the table, or whose projects,
    sections, tags, assignee or parent show other names or places are
    re-fetched (one `modified_since` or full listing of the project, or
    one `GET /tasks/{gid}` when only one changed); a task in the snapshot
    that no project lists any more is looked up once and, if Asana no longer
    has it in a listed project, emitted as a tombstone (`_sdc_deleted_at`
    set, as Singer targets with hard deletes expect).

    ONE bookmark for the stream: it never moves past the moment (Asana's
    clock) the project list was taken, before any task listing began, so a
    task changed in an already-read project while later projects are still
    being read is picked up by the next run. A task that comes back with a
    `modified_at` older than the bookmark (a task newly added to a project)
    is emitted, not dropped.
    """

    name = "tasks"
    replication_key = "modified_at"
    is_sorted = False  # per-project pages are not ordered by modified_at
    emits_tombstones = True

    @property
    def full_record_workers(self) -> int:
        return min(self.concurrency, FULL_RECORD_WORKERS)

    def get_replication_key_signpost(self, context: t.Mapping[str, t.Any] | None = None) -> str:
        return self.listings.watermark(self._tap_asana.started_at)

    def records(self) -> t.Iterable[dict]:
        start = self.get_starting_timestamp(None)
        end = self.config.get("end_date")
        end_at = timestamps.parse(end) if end else None
        bookmarked = bool(self.stream_state.get("replication_key_value"))
        snapshots = dict(self.stream_state.get(SNAPSHOT_KEY) or {})
        for workspace_gid in self.listings.workspace_gids():
            previous = decode_snapshot(snapshots.get(workspace_gid))
            current: dict[str, str] = {}
            if end_at is None and bookmarked and previous is not None:
                records = self._reconciled(workspace_gid, start, previous, current)
            elif end_at is None and bookmarked:
                # A bookmark from before snapshots: list everything once, so
                # the snapshot holds every task the table may hold.
                records = self._listed(workspace_gid, None, None, current)
            else:
                records = self._listed(workspace_gid, start, end_at, current)
            yield from records
            if end_at is None:
                snapshots[workspace_gid] = encode_snapshot(current)
        if end_at is None:
            self.stream_state[SNAPSHOT_KEY] = snapshots

    # A run without a usable snapshot: list every project's tasks ---------
    def _listed(
        self,
        workspace_gid: str,
        start: datetime | None,
        end_at: datetime | None,
        current: dict[str, str],
    ) -> Iterator[dict]:
        modified_since = timestamps.to_asana(start) if start else None
        params = {"modified_since": modified_since} if modified_since else {}

        def tasks_of(project_gid: str) -> t.Iterator[tuple[str, dict]]:
            for task in self.listings.listing(
                "/tasks", {"project": project_gid, **params}, opt_fields=self.opt_fields
            ):
                yield project_gid, task

        complete = modified_since is None and end_at is None
        fetch = skip_if_deleted("project", tasks_of)
        with workspace_must_exist(workspace_gid):
            projects = self.listings.project_gids(workspace_gid)
        # Every task, once, with the projects listing it: a complete listing
        # is also the task index (stories in the same run need it).
        index: dict[str, IndexedTask] = {}
        for project_gid, task in merge_parallel(fetch, projects, self.full_record_workers):
            entry = index.get(task["gid"])
            if entry is not None:  # a task in several projects is emitted once
                entry.projects.append(project_gid)
                continue
            index[task["gid"]] = entry = IndexedTask.of(task)
            entry.projects.append(project_gid)
            if end_at and _modified_after(task, end_at):
                continue
            current[task["gid"]] = index[task["gid"]].fingerprint
            if complete:
                self.listings.task_listed(workspace_gid, task["gid"])
            yield task
        if complete:
            self.listings.remember_all_tasks(workspace_gid, list(index))
            fields = index_opt_fields(self.opt_fields)
            if set(fields) <= set(self.opt_fields):   # the records had every field of the index
                self.listings.remember_task_index(workspace_gid, fields, index)

    # A recurring run: the index against the previous snapshot -------------
    def _reconciled(
        self,
        workspace_gid: str,
        start: datetime | None,
        previous: dict[str, str],
        current: dict[str, str],
    ) -> Iterator[dict]:
        with workspace_must_exist(workspace_gid):
            index = self.listings.task_index(workspace_gid, index_opt_fields(self.opt_fields))
        since = start.astimezone(timezone.utc) if start else None
        first_start = self.config.get("start_date")
        first_at = timestamps.parse(first_start) if first_start else None

        stale: dict[str, list[str]] = {}  # project -> tasks to re-fetch through it
        modified: set[str] = set()
        order = {gid: i for i, gid in enumerate(self.listings.project_gids(workspace_gid))}
        for gid, entry in index.items():
            known = previous.get(gid)
            changed = since is not None and _modified_at_or_after(entry, since)
            if known is None and not changed and first_at and not _modified_at_or_after(entry, first_at):
                continue  # older than start_date and never loaded: still out of scope
            if known is not None:
                current[gid] = known  # until a fresher record replaces it
            if known == entry.fingerprint:
                continue
            if changed:
                modified.add(gid)
            home = min(entry.projects, key=order.__getitem__)  # the same project every run
            stale.setdefault(home, []).append(gid)

        def refresh(project_gid: str) -> Iterator[dict]:
            # Few changes: one GET each. More: one listing of the project,
            # narrowed by modified_since when every change is an edit.
            wanted = set(stale[project_gid])
            if len(wanted) > 1:
                params = {"project": project_gid}
                if wanted <= modified and since is not None:
                    params["modified_since"] = timestamps.to_asana(since)
                for task in self.listings.listing("/tasks", params, opt_fields=self.opt_fields):
                    if task["gid"] in wanted:
                        wanted.discard(task["gid"])
                        yield task
            for gid in sorted(wanted):  # one changed task, or one that left the project meanwhile
                yield from confirm(gid)

        lookup_fields = self.opt_fields if "projects" in self.opt_fields else [*self.opt_fields, "projects"]

        def confirm(gid: str) -> Iterator[dict]:
            # `projects` even when deselected: it decides whether the task stays.
            task = self.listings.look_up_task(gid, lookup_fields)
            yield task if task and self.listings.still_listed(task, workspace_gid) else task_tombstone(gid)

        vanished = [gid for gid in previous if gid not in index]
        for task in itertools.chain(
            merge_parallel(skip_if_deleted("project", refresh), list(stale), self.full_record_workers),
            merge_parallel(confirm, vanished, self.concurrency),  # a live one: the listing missed it
        ):
            if task.get("_sdc_deleted_at") is None:
                current[task["gid"]] = fingerprint(task)
            elif self._tombstones_declared:  # else kept: removed once the catalog allows
                current.pop(task["gid"], None)
            yield task


def _modified_at_or_after(entry: IndexedTask, moment: datetime) -> bool:
    return entry.modified_at is not None and timestamps.parse(entry.modified_at) >= moment


def _modified_after(task: dict, moment: datetime) -> bool:
    modified = task.get("modified_at")
    return isinstance(modified, str) and timestamps.parse(modified) > moment.astimezone(timezone.utc)
