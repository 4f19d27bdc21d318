"""MeltanoLabs' target-postgres 0.8.1 with the fixes omniload needs.

Entry point: the ``target-postgres-omniload`` console script (``main``),
with upstream's command line, config and messages.  Every difference is a
record in ``divergences.py`` (upstream behaviour, ours, why, the tests that
guard it); ``pin.py`` refuses to start on any other upstream code.  The
differences are subclasses:

  connector.py  column types (one jsonb per array, timestamptz) and UTC sessions
  sink.py       tombstones deleted under hard_delete
  target.py     the target class that uses them
"""

from __future__ import annotations

import logging
import sys

from target_postgres_omniload.pin import IncompatibleTargetError, check_target

__all__ = ["IncompatibleTargetError", "check_target", "main"]


def main() -> None:
    try:
        check_target()
        from target_postgres_omniload.target import TargetPostgresOmniload

        TargetPostgresOmniload.cli()
    except SystemExit:
        raise
    except Exception as exc:
        # One greppable line before the traceback (row p5); the exit status stays 1.
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        logging.getLogger("target-postgres-omniload").critical("target-postgres-omniload failed: %s", message)
        sys.stderr.write(f"target-postgres-omniload failed: {message}\n")
        raise
