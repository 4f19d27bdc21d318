"""Walk an Asana list endpoint page by page.

Asana pages with an opaque `offset` that it hands back in
`next_page.offset`, null on the last page. Offsets expire ("as data may have
changed"), answered with a 400; the only safe reaction is to start that
listing again, skipping what was already yielded so nothing is duplicated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tap_asana.http.client import AsanaClient, Page
from tap_asana.http.errors import ExpiredOffset, MalformedResponse

logger = logging.getLogger("tap_asana.http")

MAX_LISTING_RESTARTS = 5


def paginate(
    client: AsanaClient,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    opt_fields: Iterable[str] = (),
    page_size: int = 100,
    on_page: Callable[[Page], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every record of a listing once, following next_page.offset."""
    query: dict[str, Any] = {**(params or {}), "limit": page_size}
    fields = ",".join(opt_fields)
    if fields:
        query["opt_fields"] = fields
    yielded: set[str] = set()
    restarts = 0
    offset: str | None = None
    while True:
        try:
            page = client.get(path, {**query, "offset": offset} if offset else query)
        except ExpiredOffset as exc:
            restarts += 1
            if restarts > MAX_LISTING_RESTARTS:
                raise
            logger.warning("%s; restarting the listing from its first page", exc)
            offset = None
            continue
        if not isinstance(page.data, list):
            raise MalformedResponse(f"{path} returned a non-list 'data'")
        if on_page is not None:
            on_page(page)
        for record in page.data:
            record = require_gid(record, path)
            if record["gid"] in yielded:
                continue
            yielded.add(record["gid"])
            yield record
        if not page.next_offset:
            return
        offset = page.next_offset


def require_gid(record: Any, path: str) -> dict[str, Any]:
    """A listed record must have a gid (the client has made every gid a string)."""
    if not isinstance(record, dict) or record.get("gid") in (None, ""):
        raise MalformedResponse(f"{path} returned a record without a gid")
    return record
