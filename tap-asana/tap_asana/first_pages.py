"""The first page of every small listing, asked for all at once.

The small streams (the workspace, its projects, tags, teams and users) each
start with one request, and singer-sdk syncs streams one after another: five
round trips in a row before the first project's sections are even asked
for, and two more after the last story. At the start of a run, with the
workspace known, those first requests go out together instead; each stream
then finds its first page waiting (one page per stream held, at most) and
pages on from there as before. Same requests, same answers, a few round
trips less of waiting on every run, the hourly ones included.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tap_asana.http.client import AsanaClient, Page

Request = tuple[str, dict[str, Any]]  # (path, query)


def _key(path: str, params: dict[str, Any] | None) -> tuple:
    return path, tuple(sorted((k, str(v)) for k, v in (params or {}).items()))


class FirstPages:
    """Answers `get` from a prefetched page when one was asked for exactly
    that request, from the client otherwise. Each prefetched page is
    handed out once: a listing that restarts asks Asana again."""

    def __init__(self, client: AsanaClient) -> None:
        self._client = client
        self._pending: dict[tuple, Future[Page]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def prefetch(self, requests: Iterable[Request]) -> None:
        requests = list(requests)
        if not requests:
            return
        self._pool = ThreadPoolExecutor(max_workers=len(requests), thread_name_prefix="first-page")
        with self._lock:
            for path, params in requests:
                key = _key(path, params)
                if key not in self._pending:
                    self._pending[key] = self._pool.submit(self._client.get, path, params)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Page:
        with self._lock:
            waiting = self._pending.pop(_key(path, params), None)
        if waiting is not None:
            return waiting.result()  # its error, if it failed, is raised here, where the stream asks
        return self._client.get(path, params)

    def close(self) -> None:
        """Drop what no stream asked for (a failed run) without waiting for it."""
        with self._lock:
            for waiting in self._pending.values():
                waiting.cancel()
            self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
