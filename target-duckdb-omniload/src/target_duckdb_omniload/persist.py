"""The wrapped persist_lines: the line filter before it, ACTIVATE_VERSION's
deletions and the final STATE after it (rows c1, c2 and g of the registry,
divergences.py).

0.8.0 emits a STATE only right after a flush: a STATE that arrives after the
last flush (typically the tap's final one) is never emitted, and a run
without records emits the first STATE, not the last, so the bookmark lags
and the next run extracts again.  When persist_lines returns normally every
record has been flushed, so the last STATE read is safe to emit; it is
emitted when the target's last emitted STATE differs.
"""

from __future__ import annotations

import copy

import target_duckdb

from target_duckdb_omniload.activate_version import remove_unversioned_rows
from target_duckdb_omniload.line_filter import filter_lines

_upstream_persist_lines = target_duckdb.persist_lines
_upstream_emit_state = target_duckdb.emit_state

_last_emitted: dict[str, object] = {}


def emit_state(state):
    """Wraps emit_state: remembers what was emitted last."""
    if state is not None:
        _last_emitted["state"] = copy.deepcopy(state)
    _upstream_emit_state(state)


def persist_lines(connection, config, lines):
    seen: dict = {}
    _last_emitted.clear()
    _upstream_persist_lines(connection, config, filter_lines(lines, seen))
    remove_unversioned_rows(connection, config, seen)
    final_state = seen.get("state")
    if final_state is not None and _last_emitted.get("state") != final_state:
        target_duckdb.LOGGER.info("Emitting the last STATE received (all records are flushed)")
        target_duckdb.emit_state(copy.deepcopy(final_state))
