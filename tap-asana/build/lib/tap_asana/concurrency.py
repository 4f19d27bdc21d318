"""Run one blocking function over many inputs on a few threads.

The SDK writes records from a single thread; workers only fetch. Results are
yielded as they complete with a bounded backlog, so memory stays flat however
many projects or tasks there are.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def map_unordered(
    fn: Callable[[In], Out], items: Iterable[In], workers: int
) -> Iterator[Out]:
    """Yield fn(item) for every item, in completion order.

    The first exception stops the submission of new work and is re-raised
    once in-flight calls have been cancelled or have finished.
    """
    backlog = max(1, workers) * 2
    source = iter(items)
    pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="asana")
    pending: set[cf.Future[Out]] = set()
    try:
        for item in source:
            pending.add(pool.submit(fn, item))
            if len(pending) >= backlog:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
