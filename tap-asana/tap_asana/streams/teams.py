from __future__ import annotations

import logging
import typing as t

from tap_asana.http.errors import BadRequest, Forbidden, NotFound
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist

logger = logging.getLogger("tap_asana")


class TeamsStream(AsanaStream):
    """GET /workspaces/{gid}/teams. Only organizations have teams: a personal
    workspace contributes zero rows and a warning, not a failed run."""

    name = "teams"

    def first_requests(self) -> list[tuple[str, dict]]:
        return [self.listings.listing_request(f"/workspaces/{gid}/teams", opt_fields=self.opt_fields)
                for gid in self.listings.configured_workspace_gids()]

    def records(self) -> t.Iterable[dict]:
        for workspace_gid in self.listings.workspace_gids():
            try:
                yield from self.listings.listing(
                    f"/workspaces/{workspace_gid}/teams", opt_fields=self.opt_fields
                )
            except (BadRequest, Forbidden, NotFound):
                # Asana does not document its answer for a non-organization;
                # ask the workspace itself before deciding the error is real.
                if self._is_organization(workspace_gid):
                    raise
                logger.warning(
                    "workspace %s is not an organization, so it has no teams", workspace_gid
                )

    def _is_organization(self, workspace_gid: str) -> bool:
        with workspace_must_exist(workspace_gid):
            page = self.client.get(
                f"/workspaces/{workspace_gid}", {"opt_fields": "is_organization"}
            )
        return bool(page.data.get("is_organization"))
