"""Turn Asana's 404s into what they mean where they happen.

A 404 on a workspace-level listing means the configured workspace is wrong:
fatal, with a message naming it. A 404 on one project's sections or one
task's stories means the object was deleted while the run was going: it has
no rows to contribute, so it is skipped with a warning, not a failed run.
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
def workspace_scope(workspace_gid: str) -> Iterator[None]:
    try:
        yield
    except NotFound:
        raise UnknownWorkspace(
            f"workspace {workspace_gid} was not found, or the access token cannot see it"
        ) from None


def skip_if_deleted(
    kind: str, fetch: Callable[[str], Iterable[T]]
) -> Callable[[str], Iterator[T]]:
    def fetch_or_nothing(gid: str) -> Iterator[T]:
        try:
            yield from fetch(gid)
        except NotFound:
            logger.warning("%s %s disappeared during the run; skipping the rest of it", kind, gid)

    return fetch_or_nothing
