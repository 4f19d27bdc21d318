"""One step of a run in a forked child: what it imports and allocates leaves with it.

omniload's own memory counts toward a run's peak, since it runs beside the
tap and the loader.  Looking at the destination before the load imports
duckdb, whose library is most of omniload's memory (about 50 of 70 MB), and
omniload needs duckdb again only to publish, once the tap and the loader
have exited.  So that look happens in a child, and the child's answer (or
its error) comes back through a pipe.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import TypeVar

from omniload_cli.errors import OmniloadError

T = TypeVar("T")


class ChildFailed(OmniloadError):
    """The child ended without an answer, or raised something unpicklable."""


def call(fn: Callable[..., T], *args) -> T:
    """fn(*args) in a forked child; its result, or its exception raised here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child
        status = 1
        try:
            os.close(read_end)
            try:
                answer: tuple = ("ok", fn(*args))
            except BaseException as exc:  # noqa: BLE001 - every outcome goes to the parent
                answer = ("raised", exc)
            try:
                data = pickle.dumps(answer)
            except Exception:  # noqa: BLE001 - an exception pickle cannot carry
                data = pickle.dumps(("raised", ChildFailed(f"{type(answer[1]).__name__}: {answer[1]}")))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)                       # no atexit, no cleanup of the parent's objects
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as answer_pipe:
            data = answer_pipe.read()
    finally:
        os.waitpid(pid, 0)
    if not data:
        raise ChildFailed("the child process ended without an answer")
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value            # an OmniloadError keeps its message and exit code
    return value
