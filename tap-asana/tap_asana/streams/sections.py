from __future__ import annotations

import typing as t

from tap_asana.concurrency import merge_parallel
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import skip_if_deleted, workspace_must_exist


class SectionsStream(AsanaStream):
    """GET /projects/{gid}/sections for every project, several at a time."""

    name = "sections"

    def records(self) -> t.Iterable[dict]:
        def sections_of(project_gid: str) -> t.Iterator[dict]:
            for section in self.listings.listing(
                f"/projects/{project_gid}/sections", opt_fields=self.opt_fields
            ):
                yield {**section, "project_gid": project_gid}

        for workspace_gid in self.listings.workspace_gids():
            with workspace_must_exist(workspace_gid):
                projects = self.listings.project_gids(workspace_gid)
            fetch = skip_if_deleted("project", sections_of)
            yield from merge_parallel(fetch, projects, self.concurrency)
