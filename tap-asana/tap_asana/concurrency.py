"""Run one producer per input on a few threads, merging what they yield.

The SDK writes records from a single thread; workers only fetch. Each worker
hands its records over in chunks through a small bounded queue, so however
big a project is and however slow the downstream target, at most a few
thousand records are in memory: peak memory stays flat as a workspace grows.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

CHUNK = 25  # records handed over at a time: a few hundred in the queue, whatever the workspace

# Listings of full task records: a worker blocked on a busy consumer holds
# the rest of a page of 100 decoded tasks, so workers cost memory; eight
# already read pages faster than the loader writes them.
FULL_RECORD_WORKERS = 8
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def merge_parallel(
    produce: Callable[[In], Iterable[Out]], items: Iterable[In], workers: int
) -> Iterator[Out]:
    """Yield everything produce(item) yields, for every item, in no set order.

    The first exception in a worker stops the others and is re-raised here;
    closing the iterator early stops them too.
    """
    source = iter(items)
    source_lock = threading.Lock()
    handover: queue.Queue = queue.Queue(maxsize=max(1, workers))
    stop = threading.Event()

    def put(message: object) -> bool:
        while not stop.is_set():
            try:
                handover.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def next_item() -> object:
        with source_lock:  # `items` may itself be a generator
            return next(source, _DONE)

    def work() -> None:
        try:
            while not stop.is_set():
                item = next_item()
                if item is _DONE:
                    break
                chunk: list[Out] = []
                for out in produce(item):  # type: ignore[arg-type]
                    chunk.append(out)
                    if len(chunk) >= CHUNK:
                        if not put(chunk):
                            return
                        chunk = []
                if chunk and not put(chunk):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failure(exc))
        finally:
            put(_DONE)

    threads = [
        threading.Thread(target=work, name=f"tap-asana-worker-{i}", daemon=True)
        for i in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            message = handover.get()
            if message is _DONE:
                running -= 1
            elif isinstance(message, _Failure):
                raise message.exc
            else:
                yield from message  # type: ignore[misc,unused-ignore]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
