"""The load loop's fixed costs (rows e1, e2 of the registry, divergences.py)."""

from __future__ import annotations

import functools
import gc

from target_duckdb import logger

_upstream_get_logger = logger.get_logger

# A batch holds thousands of parsed records (nested dicts and lists), so the
# cyclic garbage collector's default thresholds make it re-scan them again and
# again (~9 % of the loader's CPU on 100k Asana tasks). Singer records hold no
# reference cycles; collecting less often frees the same memory.
GC_THRESHOLD = (50_000, 20, 100)


@functools.cache
def get_logger(name="singer"):
    """Wraps logger.get_logger, which re-reads and re-applies the logging
    config file on every call (column_type calls it for every column of every
    batch): configured once, the loggers are the same."""
    return _upstream_get_logger(name)


def collect_garbage_less_often() -> None:
    gc.set_threshold(*GC_THRESHOLD)
