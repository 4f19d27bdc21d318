"""Crash and pause points for the reliability tests (tests/reliability).

``OMNILOAD_TEST_HOOK="<point>:<action>[,<point>:<action>...]"`` makes omniload
act at a named point of a run:

- ``kill``:  SIGKILL itself there (no cleanup, no rollback code runs: what a
  power cut or the OOM killer does);
- ``pause``: SIGSTOP itself there; the test inspects or changes the world and
  sends SIGCONT.

Points, in run order: ``locked`` (the run holds the destination's lock,
nothing opened yet), ``before-load`` (destination checked, children not yet
started), ``before-publish`` (the loader exited 0, the stage is complete),
``in-publish`` (inside the publish transaction: the table is swapped/merged,
the state not yet written), ``before-commit`` (rows and state written, not yet
committed), ``after-commit``.  Unset (always, outside tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("locked", "before-load", "before-publish", "in-publish", "before-commit", "after-commit")


def at(point: str) -> None:
    spec = os.environ.get("OMNILOAD_TEST_HOOK")
    if not spec:
        return
    for item in spec.split(","):
        where, _, action = item.strip().partition(":")
        if where != point:
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "pause":
            os.kill(os.getpid(), signal.SIGSTOP)
