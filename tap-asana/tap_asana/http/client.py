"""The one door to Asana: a keep-alive session, the shared limiter, retries.

Every request of a run goes through `AsanaClient.get`, from any thread. It
returns a parsed `Page` or raises an `AsanaError` (see errors.py); transient
failures never reach the caller unless they outlast the retry budget.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests
from requests.adapters import HTTPAdapter

from tap_asana.http import retries
from tap_asana.http.errors import (
    ExpiredOffset,
    MalformedResponse,
    RateLimited,
    SyncTokenExpired,
    Unreachable,
    error_for_status,
)
from tap_asana.http.rate_limiter import RateLimiter

logger = logging.getLogger("tap_asana.http")

DEFAULT_RETRY_AFTER_SECONDS = 30.0

# A "gid" whose value is neither a string nor null. Asana's gids are strings,
# but a numeric one must be coerced rather than lose the row. Walking every
# nested object of every page to find one is costly on big task pages, so the
# raw body is searched first and walked only when, against all practice, it
# holds one.
# The key may be written with escapes ("\u0067id" is "gid" too; the hex
# digits in any case, and so the letters: "GID" merely costs a walk).
_NON_STRING_GID = re.compile(
    rb'"(?i:(?:g|\\u0067)(?:i|\\u0069)(?:d|\\u0064))"\s*:\s*[^"\sn]')


@dataclass(frozen=True)
class Page:
    data: Any
    next_offset: str | None
    server_time: datetime | None  # the response's Date header, Asana's clock
    sync: str | None = None       # GET /events: the token to continue from
    has_more: bool = False        # GET /events: more events wait behind `sync`


class AsanaClient:
    def __init__(
        self,
        *,
        api_url: str,
        access_token: str,
        limiter: RateLimiter,
        request_timeout: float,
        max_tries: int,
        user_agent: str,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._limiter = limiter
        self._timeout = request_timeout
        self._session = requests.Session()
        # One pooled connection per concurrent worker, all kept alive.
        pool = max(1, limiter.max_in_flight)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            }
        )
        self._max_tries = max_tries
        self._get_with_retries = backoff.on_exception(
            retries.wait_for,
            retries.RETRIED,
            max_tries=max_tries,
            jitter=None,  # wait_for jitters itself; Retry-After must not be jittered
            on_backoff=self._log_retry,
            on_giveup=self._log_giveup,
        )(self._get_once)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Page:
        """One API call, retried through transient failures."""
        try:
            return self._get_with_retries(path, params)
        except retries.NETWORK_ERRORS as exc:
            what = retries.describe_network_error(
                exc, urlsplit(self._api_url).netloc, self._timeout
            )
            raise Unreachable(
                f"gave up on GET {path} after {self._max_tries} tries: {what}"
            ) from None

    def get_once(self, path: str, params: dict[str, Any] | None = None) -> Page:
        """One try, neither retried nor logged: for a request made ahead of
        time, whose failure is answered by asking again with `get` when the
        answer is needed (first_pages.py). A 429 still slows every thread."""
        return self._get_once(path, params)

    def close(self) -> None:
        self._session.close()

    def _get_once(self, path: str, params: dict[str, Any] | None = None) -> Page:
        with self._limiter.slot():
            response = self._session.get(
                self._api_url + path, params=params, timeout=self._timeout
            )
            # Read the whole body while holding the slot: a connection dropped
            # mid-body must surface here, as a retried network error.
            body = response.content
        if response.status_code == 200:
            return _parse_page(body, response.headers.get("Date"))
        message = _asana_message(body)
        if response.status_code == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            self._limiter.rate_limited(retry_after)
            raise RateLimited(retry_after)
        if response.status_code == 400 and params and params.get("offset"):
            raise ExpiredOffset(f"pagination token refused on {path}: {message}")
        if response.status_code == 412:
            fresh = _fresh_sync_token(body)
            if fresh is None:   # nothing to continue from: as good as a garbled answer
                raise MalformedResponse(f"{path} answered 412 without a fresh sync token")
            raise SyncTokenExpired(fresh, message)
        raise error_for_status(response.status_code, message, path)

    @staticmethod
    def _log_retry(details: Any) -> None:  # backoff.types.Details
        logger.warning(
            "retry %d for %s in %.1f s: %s",
            details["tries"],
            details["args"][0],
            details["wait"],
            details["exception"],
        )

    @staticmethod
    def _log_giveup(details: Any) -> None:
        logger.error(
            "giving up on %s after %d tries: %s",
            details["args"][0],
            details["tries"],
            details["exception"],
        )


def _parse_page(body: bytes, date_header: str | None) -> Page:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedResponse(f"Asana sent a body that is not JSON: {exc}") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise MalformedResponse("Asana sent JSON without the documented 'data' key")
    if _NON_STRING_GID.search(body):
        _stringify_gids(payload["data"])
    next_page = payload.get("next_page")
    offset = next_page.get("offset") if isinstance(next_page, dict) else None
    sync = payload.get("sync")
    return Page(payload["data"], offset, _http_date(date_header),
                sync if isinstance(sync, str) and sync else None, payload.get("has_more") is True)


def _fresh_sync_token(body: bytes) -> str | None:
    """The `sync` of a 412 from GET /events: where to continue after re-reading."""
    try:
        sync = json.loads(body).get("sync")
    except (ValueError, AttributeError):
        return None
    return sync if isinstance(sync, str) and sync else None


def _stringify_gids(obj: Any) -> None:
    """Nested references too (`projects[].gid`, `assignee.gid`, ...)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "gid" and value is not None and not isinstance(value, str):
                obj[key] = str(value)
            elif isinstance(value, (dict, list)):
                _stringify_gids(value)
    elif isinstance(obj, list):
        for item in obj:
            _stringify_gids(item)


def _asana_message(body: bytes) -> str:
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(str(e.get("message", "")) for e in errors) or "no message"
    except (ValueError, KeyError, TypeError, AttributeError):
        return "no message"


def _retry_after(header: str | None) -> float:
    """Seconds to wait; Asana sends an integer, HTTP also allows a date."""
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            when = email.utils.parsedate_to_datetime(header)
            if when is not None:
                delta = when - datetime.now(timezone.utc)
                return max(0.0, delta.total_seconds())
    return DEFAULT_RETRY_AFTER_SECONDS


def _http_date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return None

