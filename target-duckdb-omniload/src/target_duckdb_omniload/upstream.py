"""target-duckdb's objects by the dotted names the registry (divergences.py) uses.

``"db_sync.DbSync.load_rows"`` is ``target_duckdb.db_sync.DbSync.load_rows``;
a name without a module prefix (``"persist_lines"``) is in ``target_duckdb``
itself.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import target_duckdb
from target_duckdb import db_sync, logger

_MODULES = {"db_sync": db_sync, "logger": logger}


def _owner(name: str) -> tuple[Any, str]:
    """'db_sync.DbSync.load_rows' -> (the DbSync class, 'load_rows')."""
    module, _, rest = name.partition(".")
    owner: Any = _MODULES.get(module)
    if owner is None:
        owner, rest = target_duckdb, name
    *path, attribute = rest.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


def resolve(name: str) -> Any:
    owner, attribute = _owner(name)
    return getattr(owner, attribute)


def bind(name: str, value: Any) -> None:
    owner, attribute = _owner(name)
    setattr(owner, attribute, value)


def source_sha256(obj: Any) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError):  # no source available: cannot vouch for it
        return None
