"""Which failures are retried, and how long to wait before the next try.

429s wait exactly what Retry-After says (never less: rejected requests count
against the quota). Everything else transient backs off exponentially with
full jitter, so that threads that failed together do not retry together.
"""

from __future__ import annotations

import random
import re
from collections.abc import Generator

import requests
import urllib3

from tap_asana.http.errors import RateLimited, TransientError

# Network-level failures: the request may never have reached Asana, or its
# answer was cut off. All GETs are idempotent, so retrying is safe.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
RETRIED: tuple[type[Exception], ...] = (TransientError, *NETWORK_ERRORS)

_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^)\"']+)")

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0


def wait_for() -> Generator[float, Exception | None, None]:
    """A `backoff` wait generator that reads the exception it is sent."""
    attempt = 0
    exc = yield 0.0  # backoff primes the generator with send(None)
    while True:
        if isinstance(exc, RateLimited):
            wait = exc.retry_after
        else:
            wait = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))
            attempt += 1
        exc = yield wait


def describe_network_error(exc: Exception, host: str, timeout: float) -> str:
    """What went wrong on the wire, in words a user can act on.

    "Could not connect" and "connected, then the answer was cut off" call
    for different fixes (a firewall or DNS against a flaky proxy or Asana's
    side), so they must not read the same.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connecting to {host} timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"{host} sent no answer within {timeout:g} s (request_timeout)"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError)):
        return f"{host} answered, but the connection dropped before the whole body arrived"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return f"the host name in {host} could not be resolved"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        found = _ERRNO_TEXT.search(str(reason))
        detail = found.group(1).strip().lower() if found else "no connection"
        return f"could not connect to {host} ({detail})"
    if reason is None and exc.args and isinstance(exc.args[0], urllib3.exceptions.ProtocolError):
        return f"{host} accepted the connection but closed it before answering"
    return f"the connection to {host} failed ({type(exc).__name__})"
