"""Asana's Events API: what changed in a project since the last run.

`GET /events?resource=<gid>&sync=<token>` returns the events since the token
was issued, at most 100 a call, with `has_more` and the token to continue
from. A call without a token, or with one Asana no longer honours (they
expire after 24 hours, or sooner), answers 412 with a fresh token: whatever
happened before it must be re-read in full, and the fresh token continues
from then. Events are skinny (which resource, what happened to it, the
parent it was added to or removed from) and may be missing: a reader acts
on the current state of what they name, and a periodic full read is the
safety net. (https://developers.asana.com/reference/getevents)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tap_asana.http.client import AsanaClient
from tap_asana.http.errors import EndlessListing, MalformedResponse, SyncTokenExpired

# Pages of events read per resource per run at most (100 events a page).
# Past them a project is busier than its events are worth following (and
# they would all be held at once): it is treated as a refused token, its
# subtasks read in full and a fresh token taken.
MAX_PAGES = 50


@dataclass
class EventsRead:
    token: str                 # where the next read continues
    expired: bool              # the old token was missing or refused, or too far behind: re-read in full
    events: list[dict] = field(default_factory=list)
    busy: bool = False         # expired because more than MAX_PAGES pages of events were waiting


def read_events(client: AsanaClient, resource_gid: str, token: str | None) -> EventsRead:
    """Every event on resource_gid's stream after token, or `expired` with a
    fresh token (a first read, a token too old, or more events than
    MAX_PAGES pages)."""
    path = "/events"
    events: list[dict] = []
    seen = {token}
    for _ in range(MAX_PAGES):
        try:
            page = client.get(path, {"resource": resource_gid, **({"sync": token} if token else {})})
        except SyncTokenExpired as exc:
            return EventsRead(exc.fresh, expired=True)
        if not isinstance(page.data, list) or page.sync is None:
            raise MalformedResponse(f"{path} answered without a list of events and a sync token")
        events.extend(e for e in page.data if isinstance(e, dict))
        if not page.has_more:
            return EventsRead(page.sync, expired=False, events=events)
        if page.sync in seen:
            raise EndlessListing(f"{path}?resource={resource_gid} keeps saying has_more with the same "
                                 "sync token; stopping, as the event stream would never end")
        seen.add(page.sync)
        token = page.sync
    try:   # a call without a token answers 412 with one that starts from now
        client.get(path, {"resource": resource_gid})
    except SyncTokenExpired as exc:
        return EventsRead(exc.fresh, expired=True, busy=True)
    raise MalformedResponse(f"{path} answered a call without a sync token with events, not a fresh token")


def task_changes(events: Iterable[dict]) -> dict[str, set[str]]:
    """The tasks events name, each with what happened to it: `changed`,
    `added`, `removed`, `deleted`, `undeleted`; `subtasks` for a task that got
    or lost a subtask (its `num_subtasks` moved); `stories` for a task a
    story was added to (that moves its `modified_at`). Events about other
    resources are left out."""
    out: dict[str, set[str]] = {}
    for event in events:
        resource, parent, action = event.get("resource"), event.get("parent"), event.get("action")
        if not isinstance(resource, dict) or not resource.get("gid") or not isinstance(action, str):
            continue
        kind = resource.get("resource_type") or event.get("type")
        parent_task = (str(parent["gid"]) if isinstance(parent, dict) and parent.get("gid")
                       and parent.get("resource_type") == "task" else None)
        if kind == "task":
            out.setdefault(str(resource["gid"]), set()).add(action)
            if parent_task and action in ("added", "removed"):
                out.setdefault(parent_task, set()).add("subtasks")
        elif kind == "story" and parent_task:
            out.setdefault(parent_task, set()).add("stories")
    return out
