"""Injected failures and latency.

Decisions come from one seeded RNG under a lock, so a given seed gives the
same sequence of fault decisions for the same sequence of requests.
"""
from __future__ import annotations

import random
import threading
import time

KINDS = ("500", "502", "503", "504", "drop", "drop_mid_body", "429")
# Surprising 200 responses (opt-in, never in the default mix): a body that is
# not JSON (an HTML page from a proxy), JSON without the `data` key, records
# whose string fields are null, and gids sent as JSON numbers.
MALFORMED_KINDS = ("non_json", "missing_data", "null_string_field", "numeric_gid")
ALL_KINDS = KINDS + MALFORMED_KINDS
# Listings that never end (opt-in, per path prefix), as a server bug or a
# cache between client and Asana can make them: "repeat" hands back, as
# next_page, the very offset the request carried; "cycle" links the last page
# back to the first with a freshly issued offset, so no token ever repeats.
PAGING_BUGS = ("repeat", "cycle")
# The string fields `null_string_field` sets to null wherever they occur in
# the records of `data` (top level only).
NULLED_STRING_FIELDS = ("name", "text", "notes", "email")
NON_JSON_BODY = (b"<html><head><title>Asana</title></head><body>We'll be right back."
                 b"</body></html>\n")


class Fault:
    """What to do with one request instead of (or on top of) serving it."""
    __slots__ = ("kind", "status", "message", "retry_after")

    def __init__(self, kind, status=None, message=None, retry_after=None):
        self.kind = kind            # "status", "drop", "drop_mid_body" or a MALFORMED_KINDS
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def __repr__(self):
        return f"Fault({self.kind!r}, {self.status!r})"

    @property
    def malformed(self) -> bool:
        return self.kind in MALFORMED_KINDS

    def mangle(self, body):
        """For a MALFORMED_KINDS fault: the 200 response to send instead of
        `body` (the handler's envelope), as (bytes, content_type) for a
        non-JSON body or (new_envelope, None) otherwise."""
        if self.kind == "non_json":
            return NON_JSON_BODY, "text/html; charset=UTF-8"
        if not isinstance(body, dict):
            return body, None
        if self.kind == "missing_data":
            return {k: v for k, v in body.items() if k != "data"}, None
        data = body.get("data")
        records = data if isinstance(data, list) else [data]
        if self.kind == "null_string_field":
            for r in records:
                if isinstance(r, dict):
                    for f in NULLED_STRING_FIELDS:
                        if isinstance(r.get(f), str):
                            r[f] = None
        elif self.kind == "numeric_gid":
            _numeric_gids(data)
        return body, None


def _api_relative(path_prefix: str) -> str:
    """Prefixes may be given with or without the /api/1.0 in front."""
    if path_prefix.startswith("/api/1.0/"):
        return path_prefix[len("/api/1.0"):]
    return path_prefix


def _numeric_gids(obj) -> None:
    """Every all-digit "gid" string, at any depth, becomes a JSON number."""
    if isinstance(obj, list):
        for x in obj:
            _numeric_gids(x)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k == "gid" and isinstance(v, str) and v.isdigit():
                obj[k] = int(v)
            else:
                _numeric_gids(v)


class Faults:
    def __init__(self, rate: float = 0.0, kinds=KINDS, seed: int = 0, latency_ms: float = 0,
                 jitter_ms: float = 0, retry_after_s: int = 1):
        self._lock = threading.Lock()
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.configure(rate=rate, kinds=kinds, seed=seed, retry_after_s=retry_after_s)
        self._fail_after = None
        self._fail_status = 500
        self._deny: list[tuple[str, int, str | None]] = []
        self._paging_bugs: list[tuple[str, str]] = []
        self.injected_by_kind: dict[str, int] = {}

    # --- configuration -------------------------------------------------------
    def configure(self, rate: float | None = None, kinds=None, seed: int | None = None,
                  retry_after_s: int | None = None) -> None:
        """Fail each API request with probability `rate`, picking uniformly
        among `kinds` (subset of ALL_KINDS; default KINDS)."""
        with self._lock:
            if rate is not None:
                if not 0 <= rate <= 1:
                    raise ValueError("rate must be within [0, 1]")
                self.rate = rate
            if kinds is not None:
                kinds = tuple(str(k) for k in kinds)
                bad = set(kinds) - set(ALL_KINDS)
                if bad or not kinds:
                    raise ValueError(f"unknown fault kinds {sorted(bad)}; choose from {ALL_KINDS}")
                self.kinds = kinds
            if seed is not None:
                self._rng = random.Random(seed)
            if retry_after_s is not None:
                self.retry_after_s = retry_after_s

    def fail_from(self, n: int, status: int = 500) -> None:
        """The next n requests are served normally; every one after fails with
        `status` (e.g. 500, or 401 to simulate a revoked token)."""
        with self._lock:
            self._fail_after = n
            self._fail_status = status

    def deny(self, path_prefix: str, status: int = 402, message: str | None = None) -> None:
        """Answer every request whose API path starts with path_prefix with
        status (402 premium-only / 403 forbidden)."""
        with self._lock:
            self._deny.append((path_prefix, status, message))

    def break_pagination(self, path_prefix: str, mode: str) -> None:
        """Make every paginated listing under path_prefix endless (PAGING_BUGS)."""
        if mode not in PAGING_BUGS:
            raise ValueError(f"mode must be one of {PAGING_BUGS}")
        with self._lock:
            self._paging_bugs.append((_api_relative(path_prefix), mode))

    def paging_bug(self, api_path: str) -> str | None:
        """The PAGING_BUGS mode that applies to this listing, if any."""
        with self._lock:
            for prefix, mode in self._paging_bugs:
                if api_path.startswith(prefix):
                    self.injected_by_kind[f"paging_{mode}"] = (
                        self.injected_by_kind.get(f"paging_{mode}", 0) + 1)
                    return mode
        return None

    def premium_only(self, path_prefix: str) -> None:
        """402 Payment Required on this path, as for a paid-plan feature."""
        self.deny(path_prefix, 402)

    def forbidden(self, path_prefix: str) -> None:
        """403 Forbidden on this path, as for an object the token can't read."""
        self.deny(path_prefix, 403)

    @property
    def injected(self) -> int:
        """How many requests got an injected fault so far."""
        with self._lock:
            return sum(self.injected_by_kind.values())

    def set_latency(self, ms: float, jitter_ms: float = 0) -> None:
        with self._lock:
            self.latency_ms = ms
            self.jitter_ms = jitter_ms

    def clear(self) -> None:
        """Remove every injected fault (latency is kept)."""
        with self._lock:
            self.rate = 0.0
            self._fail_after = None
            self._deny = []
            self._paging_bugs = []

    # --- per request ------------------------------------------------------------
    def latency_s(self) -> float:
        with self._lock:
            ms = self.latency_ms
            if self.jitter_ms:
                ms += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, ms / 1000.0)

    def decide(self, api_path: str) -> Fault | None:
        """api_path is relative to /api/1.0 (deny prefixes may include it)."""
        with self._lock:
            for prefix, status, message in self._deny:
                if api_path.startswith(_api_relative(prefix)):
                    return self._count(Fault("status", status, message))
            if self._fail_after is not None:
                if self._fail_after > 0:
                    self._fail_after -= 1
                else:
                    return self._count(Fault("status", self._fail_status))
            if self.rate and self._rng.random() < self.rate:
                kind = self.kinds[self._rng.randrange(len(self.kinds))]
                if kind in ("drop", "drop_mid_body") or kind in MALFORMED_KINDS:
                    return self._count(Fault(kind))
                if kind == "429":
                    return self._count(Fault("status", 429, retry_after=self.retry_after_s))
                return self._count(Fault("status", int(kind)))
        return None

    def _count(self, f: Fault) -> Fault:
        key = f.kind if f.kind != "status" else str(f.status)
        self.injected_by_kind[key] = self.injected_by_kind.get(key, 0) + 1
        return f

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
