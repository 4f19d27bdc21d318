"""The `tap-asana` console script: singer-sdk's CLI, with clean failures.

Errors a user can fix (a rejected token, an unknown workspace, a bad config)
end with one line on stderr and exit 1, never a traceback. The token is
never part of any message (it lives only in a request header).
"""

from __future__ import annotations

import gc
import sys

from singer_sdk.exceptions import ConfigValidationError

from tap_asana.http.errors import AsanaError
from tap_asana.malloc_arenas import limit_malloc_arenas
from tap_asana.tap import TapAsana

# Every page parses into thousands of dicts and strings, so with the default
# thresholds the cyclic collector runs every few records and re-scans every
# record waiting in the handover queue each time. Records hold no reference
# cycles, so collecting rarely frees the same memory for far less work.
GC_THRESHOLD = (50_000, 20, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    limit_malloc_arenas()
    try:
        exit_code = TapAsana.cli(standalone_mode=False)
    except AsanaError as exc:
        fail(str(exc))
    except ConfigValidationError as exc:
        details = "; ".join(getattr(exc, "errors", []) or [str(exc)])
        fail(f"invalid config: {details}")
    except KeyboardInterrupt:
        fail("interrupted")
    else:
        # singer-sdk logs each config problem, then exits 1 through click
        if isinstance(exit_code, int) and exit_code != 0:
            fail("invalid config (the problems are listed above)")


def fail(message: str) -> None:
    sys.stderr.write(f"tap-asana: error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


if __name__ == "__main__":
    main()
