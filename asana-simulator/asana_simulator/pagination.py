"""Offset tokens: opaque, signed, bound to one listing, and expiring.

Tokens look like Asana's (a JWT-ish `header.payload.signature` in base64url).
The payload records the position in the listing, the issue time, a hash of
the listing (path + filters) and a generation counter; expire_all() bumps the
generation so every outstanding token is answered with the expired error.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time

from .errors import bad_request

_HEADER = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"HS256"}').rstrip(b"=").decode()

EXPIRED_MESSAGE = ("offset: Your pagination token has expired. "
                   "Restart the listing without an offset.")
INVALID_MESSAGE = "offset: Invalid pagination token. Only pass an offset returned in next_page."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Paginator:
    def __init__(self, ttl_s: float | None = None, secret: bytes | None = None, clock=time.time):
        self.ttl_s = ttl_s
        self._secret = secret or os.urandom(16)
        self._clock = clock
        self._generation = 0
        self._lock = threading.Lock()
        self.issued = 0

    def expire_all(self) -> None:
        with self._lock:
            self._generation += 1

    @staticmethod
    def listing_key(route_path: str, params: dict) -> str:
        # Everything that defines the result set; paging/projection params don't.
        ignore = {"limit", "offset", "opt_fields", "opt_pretty"}
        items = sorted((k, v) for k, v in params.items() if k not in ignore)
        raw = route_path + "?" + "&".join(f"{k}={v}" for k, v in items)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def issue(self, listing_key: str, position: int) -> str:
        with self._lock:
            gen = self._generation
            self.issued += 1
        payload = _b64(json.dumps({"pos": position, "iat": round(self._clock(), 3),
                                   "lst": listing_key, "gen": gen},
                                  separators=(",", ":")).encode())
        sig = hmac.new(self._secret, f"{_HEADER}.{payload}".encode(), hashlib.sha256).digest()
        return f"{_HEADER}.{payload}.{_b64(sig)}"

    def decode(self, token: str, listing_key: str) -> int:
        """Position encoded in token; ApiError(400) if tampered/foreign/expired."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _HEADER:
            raise bad_request(INVALID_MESSAGE)
        want = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            ok = hmac.compare_digest(_unb64(parts[2]), want)
            payload = json.loads(_unb64(parts[1])) if ok else None
        except (ValueError, TypeError):
            ok = False
        if not ok or not isinstance(payload, dict):
            raise bad_request(INVALID_MESSAGE)
        if payload.get("lst") != listing_key:
            # A token from another listing (other filters/path) is not valid here.
            raise bad_request(INVALID_MESSAGE)
        with self._lock:
            gen = self._generation
        if payload.get("gen") != gen:
            raise bad_request(EXPIRED_MESSAGE)
        if self.ttl_s is not None and self._clock() - payload["iat"] > self.ttl_s:
            raise bad_request(EXPIRED_MESSAGE)
        pos = payload.get("pos")
        if not isinstance(pos, int) or pos < 0:
            raise bad_request(INVALID_MESSAGE)
        return pos
