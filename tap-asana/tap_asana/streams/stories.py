from __future__ import annotations

import typing as t

from tap_asana.concurrency import merge_parallel
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.scoping import skip_if_deleted, workspace_scope

STATE_KEY = "tasks_modified_since"


class StoriesStream(AsanaStream):
    """GET /tasks/{gid}/stories for each task, once, several at a time.

    Stories have no server-side time filter, but a new story bumps its task's
    `modified_at`. So with `stories_incremental` only the stories of tasks
    modified since the previous run are fetched (load them with merge on gid);
    the watermark is kept in this stream's state under `tasks_modified_since`.
    """

    name = "stories"

    def records(self) -> t.Iterable[dict]:
        incremental = bool(self.config.get("stories_incremental"))
        since = self.stream_state.get(STATE_KEY) if incremental else None
        # Same race-free watermark as tasks: Asana's clock before any listing.
        watermark = self.directory.watermark(self._tap_asana.started_at) if incremental else None

        def stories_of(task_gid: str) -> t.Iterator[dict]:
            for story in self.directory.listing(
                f"/tasks/{task_gid}/stories", opt_fields=self.opt_fields
            ):
                yield {**story, "task_gid": task_gid}

        fetch = skip_if_deleted("task", stories_of)
        for workspace_gid in self.directory.workspace_gids():
            with workspace_scope(workspace_gid):
                task_gids = self.directory.task_gids(workspace_gid, modified_since=since)
                yield from merge_parallel(fetch, task_gids, self.concurrency)
        if incremental:
            self.stream_state[STATE_KEY] = watermark
