"""Which failures are retried, and how long to wait before the next try.

429s wait exactly what Retry-After says (never less: rejected requests count
against the quota). Everything else transient backs off exponentially with
full jitter, so that threads that failed together do not retry together.
"""

from __future__ import annotations

import random
from collections.abc import Generator

import requests

from tap_asana.http.errors import RateLimited, TransientError

# Network-level failures: the request may never have reached Asana, or its
# answer was cut off. All GETs are idempotent, so retrying is safe.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
RETRIED = (TransientError, *NETWORK_ERRORS)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0


def wait_for(
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    rng: random.Random | None = None,
) -> Generator[float, Exception | None, None]:
    """A `backoff` wait generator that reads the exception it is sent."""
    rng = rng or random.Random()
    attempt = 0
    exc = yield 0.0  # backoff primes the generator with send(None)
    while True:
        if isinstance(exc, RateLimited):
            wait = exc.retry_after
        else:
            wait = rng.uniform(0, min(cap, base * 2**attempt))
            attempt += 1
        exc = yield wait
