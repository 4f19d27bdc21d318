from __future__ import annotations

import typing as t
from collections.abc import Iterator

from tap_asana.concurrency import merge_parallel
from tap_asana.snapshots import decode_snapshot, encode_snapshot
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import skip_if_deleted, workspace_must_exist
from tap_asana.task_index import index_opt_fields
from tap_asana.tombstones import story_tombstones

WATERMARK_KEY = "tasks_modified_since"  # omniload reads it as the stories bookmark
SNAPSHOT_KEY = "snapshot"  # {workspace gid: encoded {task gid: "modified_at|story,story,..."}}


class StoriesStream(AsanaStream):
    """GET /tasks/{gid}/stories for each task, once, several at a time.

    Stories have no server-side time filter, but a new story, an edited one
    and a deleted one all bump their task's `modified_at`. So with
    `stories_incremental` only the stories of tasks whose `modified_at`
    moved since the previous run (and of tasks new to the table) are
    fetched, found in the compact task index (task_index.py); the state
    keeps a snapshot of every task's `modified_at` and story gids (and,
    under `tasks_modified_since`, the run's watermark). A story gone from a
    re-fetched task, and every story of a task that no project lists any
    more (looked up once to be sure), is emitted as a tombstone
    (`_sdc_deleted_at` set). Load with merge on gid.
    """

    name = "stories"
    emits_tombstones = True

    @property
    def emit_activate_version_messages(self) -> bool:
        # Incremental stories are a partial extract: a version would make the
        # target remove every story not re-read this run.
        return super().emit_activate_version_messages and not self.config.get("stories_incremental")

    def first_request_for_task(self, workspace_gid: str, task_gid: str) -> tuple[str, dict] | None:
        # Every task's stories are read unless the run is incremental from a
        # snapshot of the workspace (then only the changed tasks').
        if self.config.get("stories_incremental") and (self.stream_state.get(SNAPSHOT_KEY) or {}).get(workspace_gid):
            return None
        return self.listings.listing_request(f"/tasks/{task_gid}/stories", opt_fields=self.opt_fields)

    def records(self) -> t.Iterable[dict]:
        if not self.config.get("stories_incremental"):
            for workspace_gid in self.listings.workspace_gids():
                with workspace_must_exist(workspace_gid):
                    tasks = self.listings.task_gids(workspace_gid)
                    yield from merge_parallel(self._fetch, tasks, self.concurrency)
            return
        # Same race-free watermark as tasks: Asana's clock before any listing.
        watermark = self.listings.watermark(self._tap_asana.started_at)
        snapshots = dict(self.stream_state.get(SNAPSHOT_KEY) or {})
        for workspace_gid in self.listings.workspace_gids():
            previous = _decode(snapshots.get(workspace_gid))
            with workspace_must_exist(workspace_gid):
                index = self.listings.task_index(
                    workspace_gid, index_opt_fields(self._task_opt_fields())
                )
            # A task's stories are re-read when its modified_at moved (a new,
            # edited or deleted story moves it) or it is new to the table.
            current = {gid: previous[gid] for gid in index if gid in previous}
            changed = [
                gid
                for gid, entry in index.items()
                if gid not in previous or previous[gid][0] != (entry.modified_at or "")
            ]
            vanished = [gid for gid in previous if gid not in index]
            with workspace_must_exist(workspace_gid):
                yield from self._reconciled(workspace_gid, index, changed, vanished, previous, current)
            snapshots[workspace_gid] = _encode(current)
        self.stream_state[WATERMARK_KEY] = watermark
        self.stream_state[SNAPSHOT_KEY] = snapshots

    def _fetch(self, task_gid: str) -> Iterator[dict]:
        return skip_if_deleted("task", self._stories_of)(task_gid)

    def _stories_of(self, task_gid: str) -> Iterator[dict]:
        for story in self.listings.listing(f"/tasks/{task_gid}/stories", opt_fields=self.opt_fields):
            yield {**story, "task_gid": task_gid}

    def _reconciled(
        self,
        workspace_gid: str,
        index: dict,
        changed: list[str],
        vanished: list[str],
        previous: dict[str, tuple[str, list[str]]],
        current: dict[str, tuple[str, list[str]]],
    ) -> Iterator[dict]:
        def refresh(task_gid: str) -> Iterator[dict]:
            fresh: list[str] = []
            for story in self._fetch(task_gid):
                fresh.append(story["gid"])
                yield story
            entry = index.get(task_gid)
            before = previous.get(task_gid, ("", []))[1]
            gone = [story for story in before if story not in set(fresh)]
            # Without tombstones in the catalog the gone ones stay known, to be
            # removed once the catalog allows.
            kept = fresh if self._tombstones_declared else [*fresh, *gone]
            current[task_gid] = (entry.modified_at or "" if entry else "", kept)
            yield from story_tombstones(task_gid, gone)

        def gone_or_listed(task_gid: str) -> Iterator[dict]:
            task = self.listings.look_up_task(task_gid, ["projects"])
            if self.listings.still_listed(task, workspace_gid):
                yield from refresh(task_gid)  # the listing had missed it
            else:
                if self._tombstones_declared:
                    current.pop(task_gid, None)
                yield from story_tombstones(task_gid, previous[task_gid][1])

        yield from merge_parallel(refresh, changed, self.concurrency)
        yield from merge_parallel(gone_or_listed, vanished, self.concurrency)

    def _task_opt_fields(self) -> list[str]:
        tasks = self._tap_asana.streams.get("tasks")
        return tasks.opt_fields if isinstance(tasks, AsanaStream) else []


def _decode(encoded: str | None) -> dict[str, tuple[str, list[str]]]:
    """{task gid: (its modified_at when its stories were read, story gids)}."""
    out = {}
    for gid, value in (decode_snapshot(encoded) or {}).items():
        modified_at, _, stories = value.partition("|")
        out[gid] = (modified_at, [story for story in stories.split(",") if story])
    return out


def _encode(snapshot: dict[str, tuple[str, list[str]]]) -> str:
    return encode_snapshot(
        {gid: f"{modified_at}|{','.join(stories)}" for gid, (modified_at, stories) in snapshot.items()}
    )
