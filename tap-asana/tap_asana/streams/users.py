from __future__ import annotations

import typing as t

from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import workspace_must_exist


class UsersStream(AsanaStream):
    """GET /users?workspace={gid}: paginated and uncapped, unlike
    /workspaces/{gid}/users, which silently stops at 2,000 users
    (https://developers.asana.com/reference/getusersforworkspace)."""

    name = "users"

    def first_requests(self) -> list[tuple[str, dict]]:
        return [self.listings.listing_request("/users", {"workspace": gid}, opt_fields=self.opt_fields)
                for gid in self.listings.configured_workspace_gids()]

    def records(self) -> t.Iterable[dict]:
        seen: set[str] = set()  # a user in two workspaces is one row
        for workspace_gid in self.listings.workspace_gids():
            with workspace_must_exist(workspace_gid):
                for user in self.listings.listing(
                    "/users", {"workspace": workspace_gid}, opt_fields=self.opt_fields
                ):
                    if user["gid"] not in seen:
                        seen.add(user["gid"])
                        yield user
