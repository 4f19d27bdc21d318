from __future__ import annotations

import typing as t

from tap_asana.http.pagination import require_gid
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist


class WorkspacesStream(AsanaStream):
    """GET /workspaces, or only the configured one (GET /workspaces/{gid})."""

    name = "workspaces"

    def records(self) -> t.Iterable[dict]:
        configured = self.config.get("workspace_gid")
        if configured:
            path = f"/workspaces/{configured}"
            with workspace_must_exist(configured):
                page = self.client.get(path, {"opt_fields": ",".join(self.opt_fields)})
            yield require_gid(page.data, path)
            return
        gids = []
        for workspace in self.listings.listing("/workspaces", opt_fields=self.opt_fields):
            gids.append(workspace["gid"])
            yield workspace
        self.listings.remember_workspaces(gids)
