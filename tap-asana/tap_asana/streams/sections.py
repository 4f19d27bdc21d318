from __future__ import annotations

import typing as t

from tap_asana.concurrency import map_unordered
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.scoping import skip_if_deleted, workspace_scope


class SectionsStream(AsanaStream):
    """GET /projects/{gid}/sections for every project, several at a time."""

    name = "sections"

    def records(self) -> t.Iterable[dict]:
        def sections_of(project_gid: str) -> list[dict]:
            return [
                {**section, "project_gid": project_gid}
                for section in self.directory.listing(
                    f"/projects/{project_gid}/sections", opt_fields=self.opt_fields
                )
            ]

        for workspace_gid in self.directory.workspace_gids():
            with workspace_scope(workspace_gid):
                projects = self.directory.project_gids(workspace_gid)
            fetch = skip_if_deleted("project", sections_of)
            for sections in map_unordered(fetch, projects, self.concurrency):
                yield from sections
