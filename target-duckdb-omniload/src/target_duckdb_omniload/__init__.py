"""target-duckdb 0.8.0 (jwills) with the fixes omniload needs.

Entry point: the ``target-duckdb-omniload`` console script (``main`` below).
It patches a handful of target-duckdb internals and then runs the target's
own ``main()`` unchanged, so config keys, messages and output are exactly
target-duckdb's.

Every difference from 0.8.0 is a record in ``divergences.py``: the upstream
objects it replaces or relies on (each pinned by the SHA-256 of its source),
what 0.8.0 does, what we do, why, and the tests that guard it.  ``pin.py``
refuses to start on any other target-duckdb code; ``patches.py`` applies
the registry.  The fixes themselves, one job per module:

  loading.py           a batch into its table (the CSV fix, JSON lines, TEMP table)
  column_types.py      column types and timestamps
  line_filter.py       the SCHEMA/STATE line filter in front of persist_lines
  persist.py           the wrapped persist_lines and the final STATE
  activate_version.py  ACTIVATE_VERSION: removing rows a full extract did not send
  connect.py           connecting (no extension downloads, storage format)
  overheads.py         the load loop's fixed costs

``target-duckdb-omniload/README.md`` has the registry as a table.
"""

from __future__ import annotations

import target_duckdb

from target_duckdb_omniload.patches import apply_patches
from target_duckdb_omniload.pin import EXPECTED_TARGET_VERSION, IncompatibleTargetError, check_target

__all__ = ["EXPECTED_TARGET_VERSION", "IncompatibleTargetError", "apply_patches", "check_target", "main"]


def main() -> None:
    apply_patches()
    try:
        target_duckdb.main()
    except Exception as exc:
        # One greppable line before the traceback (row h); the exit status stays 1.
        target_duckdb.LOGGER.critical(
            "target-duckdb-omniload failed: %s: %s", type(exc).__name__, exc
        )
        raise
