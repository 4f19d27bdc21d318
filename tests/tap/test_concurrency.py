"""merge_parallel: everything once, bounded buffering, failures surface."""

from __future__ import annotations

import threading

import pytest

from tap_asana.concurrency import CHUNK, merge_parallel


def test_yields_everything_each_once():
    out = list(merge_parallel(lambda n: range(n * 1000, n * 1000 + 250), range(20), workers=4))
    assert sorted(out) == sorted(x for n in range(20) for x in range(n * 1000, n * 1000 + 250))


def test_a_slow_consumer_bounds_what_is_buffered():
    produced = 0
    lock = threading.Lock()

    def produce(_):
        nonlocal produced
        for i in range(100_000):
            with lock:
                produced += 1
            yield i

    workers = 3
    stream = merge_parallel(produce, range(workers), workers=workers)
    consumed = 0
    for _ in stream:
        consumed += 1
        if consumed == 1000:
            break
    stream.close()
    # queue (2 chunks per worker) + one chunk being filled per worker + the
    # one handed over: memory does not grow with the size of the input
    assert produced - consumed <= (2 * workers + workers + 1) * CHUNK + workers


def test_a_failing_producer_stops_the_run():
    def produce(n):
        if n == 7:
            raise RuntimeError("boom")
        yield from range(10)

    with pytest.raises(RuntimeError, match="boom"):
        list(merge_parallel(produce, range(50), workers=4))
    assert not [t for t in threading.enumerate() if t.name.startswith("tap-asana-worker-")]
