"""Walk an Asana list endpoint page by page.

Asana pages with an opaque `offset` that it hands back in
`next_page.offset`, null on the last page. Offsets expire ("as data may have
changed"), answered with a 400; the only safe reaction is to start that
listing again, skipping what was already yielded so nothing is duplicated.
(https://developers.asana.com/docs/pagination)

A listing must also end when Asana (or a cache in between) misbehaves: an
offset handed back twice, pages that only repeat records already seen, or
a listing that grows past any plausible size would otherwise page forever,
spending the quota of every run of a cron job that never finishes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from tap_asana.http.client import Page
from tap_asana.http.errors import EndlessListing, ExpiredOffset, MalformedResponse

logger = logging.getLogger("tap_asana.http")

MAX_LISTING_RESTARTS = 5
# Far beyond any real project, workspace or task: Asana caps a project's tasks
# well below this. A listing past it is a server fault, not data.
MAX_LISTING_RECORDS = 2_000_000
# Pages in a row that add no new record before a listing counts as going in
# circles. A restarted listing first re-reads the pages it had already read,
# which is allowed on top of this.
MAX_STALLED_PAGES = 10


class PageSource(Protocol):
    """The client, or whatever stands before it (first_pages.FirstPages)."""

    def get(self, path: str, params: dict[str, Any] | None = None) -> Page: ...


def first_page_query(
    params: dict[str, Any] | None, opt_fields: Iterable[str], page_size: int
) -> dict[str, Any]:
    """The query of a listing's first request (later ones add `offset`)."""
    query: dict[str, Any] = {**(params or {}), "limit": page_size}
    fields = ",".join(opt_fields)
    if fields:
        query["opt_fields"] = fields
    return query


def paginate(
    client: PageSource,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    opt_fields: Iterable[str] = (),
    page_size: int = 100,
    on_page: Callable[[Page], None] | None = None,
    max_records: int = MAX_LISTING_RECORDS,
) -> Iterator[dict[str, Any]]:
    """Yield every record of a listing once, following next_page.offset."""
    query = first_page_query(params, opt_fields, page_size)
    yielded: set[str] = set()
    guard = _LoopGuard(path, page_size, max_records)
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
            guard.restart(len(yielded))
            continue
        if not isinstance(page.data, list):
            raise MalformedResponse(f"{path} returned a non-list 'data'")
        if on_page is not None:
            on_page(page)
        next_offset, records = page.next_offset, page.data
        del page
        # Hand each record over and let go of it: a listing blocked on a slow
        # consumer then holds only the rest of one page, not a page already
        # consumed while the next is fetched (concurrent listings x pages of
        # decoded records is most of the tap's memory).
        records.reverse()
        new = 0
        while records:
            record = require_gid(records.pop(), path)
            if record["gid"] in yielded:
                continue
            yielded.add(record["gid"])
            new += 1
            yield record
            del record
        guard.page_read(new, len(yielded))
        if not next_offset:
            return
        guard.next_offset(next_offset)
        offset = next_offset


class _LoopGuard:
    """Tells a listing that ends from one that never will."""

    def __init__(self, path: str, page_size: int, max_records: int) -> None:
        self._path = path
        self._page_size = max(1, page_size)
        self._max_records = max_records
        self._offsets: set[str] = set()
        self._stalled = 0
        self._catch_up = 0

    def restart(self, already_yielded: int) -> None:
        # Fresh offsets are issued after a restart, and the pages already
        # read come back once more before anything new.
        self._offsets.clear()
        self._stalled = 0
        self._catch_up = math.ceil(already_yielded / self._page_size) + 1

    def page_read(self, new_records: int, total: int) -> None:
        if total > self._max_records:
            raise EndlessListing(
                f"{self._path} kept listing past {self._max_records:,} records; "
                "stopping, as no Asana listing is that long"
            )
        if new_records:
            self._stalled = 0
            self._catch_up = 0
            return
        self._stalled += 1
        if self._stalled > self._catch_up + MAX_STALLED_PAGES:
            raise EndlessListing(
                f"{self._path} sent {self._stalled} pages in a row holding only "
                "records it had already sent; stopping, as the listing goes in circles"
            )

    def next_offset(self, offset: str) -> None:
        if offset in self._offsets:
            raise EndlessListing(
                f"{self._path} handed back a next_page offset it had already "
                "given; stopping, as the listing would never end"
            )
        self._offsets.add(offset)


def require_gid(record: Any, path: str) -> dict[str, Any]:
    """A listed record must have a gid (the client has made every gid a string)."""
    if not isinstance(record, dict) or record.get("gid") in (None, ""):
        raise MalformedResponse(f"{path} returned a record without a gid")
    return record
