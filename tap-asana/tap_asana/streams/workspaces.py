from __future__ import annotations

import typing as t

from tap_asana.http.pagination import require_gid
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist


class WorkspacesStream(AsanaStream):
    """GET /workspaces, or only the configured one (GET /workspaces/{gid})."""

    name = "workspaces"

    def first_requests(self) -> list[tuple[str, dict]]:
        return [self._request(gid) for gid in self.listings.configured_workspace_gids()]

    def _request(self, workspace_gid: str) -> tuple[str, dict]:
        return f"/workspaces/{workspace_gid}", {"opt_fields": ",".join(self.opt_fields)}

    def records(self) -> t.Iterable[dict]:
        configured = self.config.get("workspace_gid")
        if configured:
            path, params = self._request(configured)
            with workspace_must_exist(configured):
                page = self.listings.get(path, params)
            yield require_gid(page.data, path)
            return
        gids = []
        for workspace in self.listings.listing("/workspaces", opt_fields=self.opt_fields):
            gids.append(workspace["gid"])
            yield workspace
        self.listings.remember_workspaces(gids)
