"""Turn Asana's 404s into what they mean where they happen.

A 404 on a workspace-level request means the workspace is wrong (or the
token may not see it): fatal, with a message naming it. A 404 on one
project's sections or tasks, or on one task's stories, means that project or
task was deleted while the run was going: it has no rows to contribute, so
it is skipped with a warning, not a failed run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tap_asana.http.errors import AsanaUserError, NotFound

logger = logging.getLogger("tap_asana")
T = TypeVar("T")


class UnknownWorkspace(AsanaUserError):
    pass


@contextmanager
def workspace_must_exist(workspace_gid: str) -> Iterator[None]:
    """Turn a 404 inside the block into UnknownWorkspace, naming the workspace."""
    try:
        yield
    except NotFound:
        raise UnknownWorkspace(
            f"workspace {workspace_gid} was not found, or the access token cannot see it"
        ) from None


def skip_if_deleted(
    kind: str, fetch: Callable[[str], Iterable[T]]
) -> Callable[[str], Iterator[T]]:
    """`fetch(gid)`, ending early with a warning if Asana answers 404 for it."""

    def fetch_or_nothing(gid: str) -> Iterator[T]:
        try:
            yield from fetch(gid)
        except NotFound:
            logger.warning("%s %s disappeared during the run; skipping the rest of it", kind, gid)

    return fetch_or_nothing
