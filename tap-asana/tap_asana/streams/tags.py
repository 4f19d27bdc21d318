from __future__ import annotations

import typing as t

from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist


class TagsStream(AsanaStream):
    """GET /workspaces/{gid}/tags."""

    name = "tags"

    def first_requests(self) -> list[tuple[str, dict]]:
        return [self.listings.listing_request(f"/workspaces/{gid}/tags", opt_fields=self.opt_fields)
                for gid in self.listings.configured_workspace_gids()]

    def records(self) -> t.Iterable[dict]:
        for workspace_gid in self.listings.workspace_gids():
            with workspace_must_exist(workspace_gid):
                yield from self.listings.listing(
                    f"/workspaces/{workspace_gid}/tags", opt_fields=self.opt_fields
                )
