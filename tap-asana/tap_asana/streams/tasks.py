from __future__ import annotations

import typing as t
from datetime import datetime, timezone

from tap_asana import timestamps
from tap_asana.concurrency import merge_parallel
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.scoping import skip_if_deleted, workspace_scope


class TasksStream(AsanaStream):
    """GET /tasks?project={gid}&modified_since=… for every project.

    Incremental on `modified_at` with ONE bookmark for the stream. The
    bookmark never moves past the moment (Asana's clock) the project list was
    taken, before any task listing began: a task changed in an already-listed
    project while later projects are still being read is then picked up by the
    next run instead of being skipped. A task that comes back with a
    `modified_at` older than the bookmark (Asana does this for a task newly
    added to a project) is emitted, not dropped.
    """

    name = "tasks"
    replication_key = "modified_at"
    is_sorted = False  # per-project pages are not ordered by modified_at

    def get_replication_key_signpost(self, context: dict | None = None) -> str:
        return self.directory.watermark(self._tap_asana.started_at)

    def records(self) -> t.Iterable[dict]:
        start = self.get_starting_timestamp(None)
        modified_since = timestamps.to_asana(start) if start else None
        end = self.config.get("end_date")
        end_at = timestamps.parse(end) if end else None
        params = {"modified_since": modified_since} if modified_since else {}

        def tasks_of(project_gid: str) -> t.Iterator[dict]:
            return self.directory.listing(
                "/tasks", {"project": project_gid, **params}, opt_fields=self.opt_fields
            )

        for workspace_gid in self.directory.workspace_gids():
            seen: set[str] = set()  # a task in several projects is emitted once
            complete = modified_since is None and end_at is None
            fetch = skip_if_deleted("project", tasks_of)
            with workspace_scope(workspace_gid):
                projects = self.directory.project_gids(workspace_gid)
            for task in merge_parallel(fetch, projects, self.concurrency):
                if task["gid"] in seen:
                    continue
                seen.add(task["gid"])
                if end_at and _modified_after(task, end_at):
                    continue
                yield task
            if complete:
                self.directory.remember_all_tasks(workspace_gid, list(seen))


def _modified_after(task: dict, moment: datetime) -> bool:
    modified = task.get("modified_at")
    return bool(modified) and timestamps.parse(modified) > moment.astimezone(timezone.utc)
