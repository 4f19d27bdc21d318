"""Asana's Events API: what the store's mutations leave behind, and the sync
tokens `GET /events?resource=<gid>&sync=<token>` pages through it with.

Every mutation records its events here, each tagged with the resources whose
event streams carry it, decided at the moment it happens: a task's own
stream, the streams of the projects it is in, and, because events bubble
up, the stream of its parent task and that parent's projects. A story is a
level below its task: its events are on the task's streams (its own and its
projects'). Whether events bubble further (a sub-subtask's event, or a
story on a subtask, reaching the parent's project) Asana does not say; by
default they do not (`bubble_all_levels=False`), the stricter choice for a
client.

Sync tokens are opaque, signed, bound to one resource, and mark a position
in the log. A call without one, with a tampered one, one issued for
another resource, one older than `token_ttl_s` (24 h, as Asana documents)
or one issued before `expire_tokens()` (every resource's, or that
resource's) answers 412 with a fresh token.
Delivery is at most once, as Asana warns: `drop_next(n)` and a
`drop_rate` make events vanish before any stream sees them.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import os
import random
import threading
import time
from dataclasses import dataclass

PAGE = 100  # events per call, as Asana documents
DAY_S = 86_400.0
EXPIRED_MESSAGE = (
    "Sync token invalid or too old. If you are attempting to keep resources in sync, you must "
    "fetch the full dataset for this query now and use the new sync token for the next sync.")


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    body: dict          # the EventResponse, as rendered
    streams: frozenset  # gids of the resources whose event streams carry it


class SyncTokenExpired(Exception):
    """The token is missing, invalid or too old; `fresh` continues from now."""

    def __init__(self, fresh: str):
        super().__init__(EXPIRED_MESSAGE)
        self.fresh = fresh


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EventLog:
    def __init__(self, *, bubble_all_levels: bool = False, token_ttl_s: float | None = DAY_S,
                 clock=time.time):
        self.bubble_all_levels = bubble_all_levels
        self.token_ttl_s = token_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._secret = os.urandom(16)
        self._generation = 0
        self._resource_generation: dict[str, int] = {}
        self._events: list[Event] = []
        self._by_stream: dict[str, list[int]] = {}   # stream gid -> seqs, ascending
        self._drop_next = 0
        self._drop_rate = 0.0
        self._rng = random.Random(0)
        self.dropped = 0

    # --- configuration (the /_sim/events controls) ----------------------------
    def configure(self, *, bubble_all_levels: bool | None = None, token_ttl_s=...,
                  drop_rate: float | None = None, seed: int | None = None) -> None:
        with self._lock:
            if bubble_all_levels is not None:
                self.bubble_all_levels = bool(bubble_all_levels)
            if token_ttl_s is not ...:
                self.token_ttl_s = None if token_ttl_s is None else float(token_ttl_s)
            if drop_rate is not None:
                if not 0 <= drop_rate <= 1:
                    raise ValueError("drop_rate must be within [0, 1]")
                self._drop_rate = float(drop_rate)
            if seed is not None:
                self._rng = random.Random(seed)

    def drop_next(self, n: int) -> None:
        """The next n events are lost: no stream ever delivers them."""
        with self._lock:
            self._drop_next = int(n)

    def expire_tokens(self, resource: str | None = None) -> None:
        """Every sync token issued so far (for resource's stream only, when
        given) answers 412 from now on."""
        with self._lock:
            if resource is None:
                self._generation += 1
            else:
                self._resource_generation[resource] = self._resource_generation.get(resource, 0) + 1

    def _generation_of(self, resource_gid: str) -> list[int]:
        return [self._generation, self._resource_generation.get(resource_gid, 0)]

    # --- the write side (mutations) -----------------------------------------------
    def record(self, body: dict, streams) -> None:
        with self._lock:
            if self._drop_next > 0:
                self._drop_next -= 1
                self.dropped += 1
                return
            if self._drop_rate and self._rng.random() < self._drop_rate:
                self.dropped += 1
                return
            event = Event(len(self._events) + 1, body, frozenset(streams))
            self._events.append(event)
            for gid in event.streams:
                self._by_stream.setdefault(gid, []).append(event.seq)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def all(self) -> list[dict]:
        """Every event recorded (not dropped), oldest first, with its streams."""
        with self._lock:
            return [{**e.body, "streams": sorted(e.streams)} for e in self._events]

    # --- the read side (GET /events) ------------------------------------------------
    def read(self, resource_gid: str, token: str | None) -> tuple[list[dict], str, bool]:
        """(events, next token, has_more) for the stream of resource_gid after
        token; SyncTokenExpired when the token is missing or no longer good."""
        with self._lock:
            position = self._position(resource_gid, token)
            seqs = self._by_stream.get(resource_gid, [])
            start = bisect.bisect_right(seqs, position)
            page = seqs[start:start + PAGE]
            has_more = start + PAGE < len(seqs)
            # The next token continues after the last event sent, or, when
            # none is left, from now (later events of other streams included).
            end = page[-1] if has_more else len(self._events)
            return [self._events[s - 1].body for s in page], self._issue(resource_gid, end), has_more

    def _position(self, resource_gid: str, token: str | None) -> int:
        if not token:
            raise SyncTokenExpired(self._issue(resource_gid, len(self._events)))
        payload = self._decode(token)
        if (payload is None or payload.get("r") != resource_gid or payload.get("g") != self._generation_of(resource_gid)
                or (self.token_ttl_s is not None and self._clock() - payload["t"] > self.token_ttl_s)
                or not isinstance(payload.get("p"), int) or not 0 <= payload["p"] <= len(self._events)):
            raise SyncTokenExpired(self._issue(resource_gid, len(self._events)))
        return payload["p"]

    def _issue(self, resource_gid: str, position: int) -> str:
        payload = _b64(json.dumps({"r": resource_gid, "p": position, "t": round(self._clock(), 3),
                                   "g": self._generation_of(resource_gid)}, separators=(",", ":")).encode())
        return payload + "." + _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:16])

    def _decode(self, token: str) -> dict | None:
        payload, _, signature = token.partition(".")
        want = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:16]
        try:
            if not hmac.compare_digest(_unb64(signature), want):
                return None
            data = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        return data if isinstance(data, dict) else None
