from __future__ import annotations

import typing as t
from datetime import datetime

from tap_asana.http.client import Page
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist


class ProjectsStream(AsanaStream):
    """GET /workspaces/{gid}/projects: live and archived projects alike
    (no `archived` filter), and the project list sections and tasks reuse."""

    name = "projects"

    def first_requests(self) -> list[tuple[str, dict]]:
        return [self.listings.listing_request(f"/workspaces/{gid}/projects", opt_fields=self.opt_fields)
                for gid in self.listings.configured_workspace_gids()]

    def records(self) -> t.Iterable[dict]:
        for workspace_gid in self.listings.workspace_gids():
            gids: list[str] = []
            listed_at: list[datetime | None] = []

            def note_time(page: Page, into: list[datetime | None] = listed_at) -> None:
                into.append(page.server_time)

            with workspace_must_exist(workspace_gid):
                for project in self.listings.listing(
                    f"/workspaces/{workspace_gid}/projects", opt_fields=self.opt_fields, on_page=note_time
                ):
                    gids.append(project["gid"])
                    yield project
            self.listings.remember_projects(
                workspace_gid, gids, listed_at[0] if listed_at else None
            )
