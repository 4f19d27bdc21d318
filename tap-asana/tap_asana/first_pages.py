"""The first page of every small listing, asked for all at once.

The small streams (the workspace, its projects, tags, teams and users) each
start with one request, and singer-sdk syncs streams one after another: five
round trips in a row before the first project's sections are even asked
for, and two more after the last story. At the start of a run, with the
workspace known, those first requests go out together instead; each stream
then finds its first page waiting (one page per stream held, at most) and
pages on from there as before. Same requests, same answers, a few round
trips less of waiting on every run, the hourly ones included.

Later, while the tasks are being listed, the first page of each of the
first tasks' stories is asked for the same way (see `read_ahead` in
shared_listings.py), so the stories stream starts with those answered.

A request made ahead is tried once, quietly: if it failed in a way the
client retries (a 5xx, a 429, a cut-off body), the stream asks again when it
gets there, with the client's retries, log lines and errors, exactly as
without prefetching; a 4xx is the answer the stream gets (a first try
without prefetching would have got it too). So a run
that fails earlier ends with its own error as the last word, not with the
retries of a request it never needed, and those threads (daemons) never
hold up its exit. They are a fixed few (five, or what the task listings
leave of `concurrency`), so at the default concurrency requests made ahead
never take every slot for requests in flight.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from tap_asana.http.client import AsanaClient, Page
from tap_asana.http.retries import RETRIED

Request = tuple[str, dict[str, Any]]  # (path, query)


def _key(path: str, params: dict[str, Any] | None) -> tuple:
    return path, tuple(sorted((k, str(v)) for k, v in (params or {}).items()))


class FirstPages:
    """Answers `get` from a prefetched page when one was asked for exactly
    that request, from the client otherwise. Each prefetched page is
    handed out once: a listing that restarts asks Asana again."""

    def __init__(self, client: AsanaClient, *, workers: int) -> None:
        self._client = client
        self._pending: dict[tuple, Future[Page]] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Future[Page], str, dict[str, Any]]] = queue.SimpleQueue()
        self._max_workers = max(1, workers)
        self._workers = 0

    def prefetch(self, requests: Iterable[Request]) -> None:
        for path, params in requests:
            future: Future[Page] = Future()
            with self._lock:
                if self._pending.setdefault(_key(path, params), future) is not future:
                    continue
                self._queue.put((future, path, params))
                if self._workers < min(self._max_workers, len(self._pending)):
                    self._workers += 1
                    threading.Thread(target=self._work, name="first-page", daemon=True).start()

    def _work(self) -> None:
        while True:
            future, path, params = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue  # forgotten by close()
            try:
                future.set_result(self._client.get_once(path, params))
            except BaseException as exc:  # noqa: BLE001 - kept for `get` to decide on
                future.set_exception(exc)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Page:
        with self._lock:
            waiting = self._pending.pop(_key(path, params), None)
        if waiting is not None and not waiting.cancel():  # under way or answered: wait for it
            try:
                return waiting.result()
            except RETRIED:
                pass  # asked again below, with the retries it would have had
            # Any other failure (a 4xx) is the answer the first try of `get` would get.
        return self._client.get(path, params)

    def close(self) -> None:
        """Forget what no stream asked for (a run that failed early)."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()  # those not yet sent are never sent
            self._pending.clear()
