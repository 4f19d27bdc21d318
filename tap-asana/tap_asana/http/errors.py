"""What can go wrong talking to Asana, split by who can fix it.

`TransientError`s are retried (the fault is Asana's or the network's);
`AsanaUserError`s stop the run with one line the user can act on. Messages
never contain the request URL's credentials: the token travels in a header
and is never formatted into an exception.

Asana's status codes: https://developers.asana.com/docs/errors
"""

from __future__ import annotations


class AsanaError(Exception):
    """Base class for every error raised by the HTTP layer."""


class TransientError(AsanaError):
    """Worth retrying: 5xx, a dropped connection, a garbled body."""


class RateLimited(TransientError):
    """429: wait `retry_after` seconds (never less) before the next request."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited by Asana; retrying after {retry_after:g} s")
        self.retry_after = retry_after


class ServerError(TransientError):
    """500/502/503/504: Asana's side, usually gone on the next try."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Asana answered {status}: {message}")


class MalformedResponse(TransientError):
    """A 200 whose body is not the JSON envelope Asana documents."""


class Unreachable(AsanaError):
    """Network failures outlasted every retry (DNS, refused, timeouts)."""


class ExpiredOffset(AsanaError):
    """400 on a page request: the pagination token expired mid-listing."""


class EndlessListing(AsanaError):
    """A listing that does not end: its offsets repeat, its pages stop adding
    records, or it grew past any plausible size. Retrying would only burn the
    quota again, so the run stops."""


class SyncTokenExpired(AsanaError):
    """412 from GET /events: the sync token is missing, invalid or too old.
    Whatever changed since it was issued must be read again in full; `fresh`
    (from the same answer) continues from now."""

    def __init__(self, fresh: str, asana_message: str) -> None:
        super().__init__(f"sync token refused (412 {asana_message})")
        self.fresh = fresh


class AsanaUserError(AsanaError):
    """Stops the run; the message is the one line the user sees."""


class AuthenticationError(AsanaUserError):
    """401: the token is wrong, expired or revoked."""


class PremiumOnly(AsanaUserError):
    """402: the endpoint needs a paid Asana plan."""


class Forbidden(AsanaUserError):
    """403: the token's user may not read this object."""


class NotFound(AsanaUserError):
    """404: unknown or deleted object (callers decide whether that is fatal)."""


class BadRequest(AsanaUserError):
    """Any other 4xx: a request Asana refuses as malformed."""


def error_for_status(status: int, asana_message: str, path: str) -> AsanaError:
    """Map a non-2xx status other than 429 (see client.py) to its exception."""
    if status >= 500:
        return ServerError(status, asana_message)
    if status == 401:
        return AuthenticationError(
            f"the access token was rejected by Asana (401 {asana_message})"
        )
    if status == 402:
        return PremiumOnly(
            f"{path} needs a paid Asana plan (402 {asana_message})"
        )
    if status == 403:
        return Forbidden(
            f"the token's user may not read {path} (403 {asana_message})"
        )
    if status == 404:
        return NotFound(f"{path} was not found (404 {asana_message})")
    return BadRequest(f"Asana refused {path} ({status} {asana_message})")
