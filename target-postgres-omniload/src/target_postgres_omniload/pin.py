"""The upstream pin: the installed target-postgres (and the singer-sdk it
runs on) must be exactly the code the divergences were written against.

Every method in divergences.UPSTREAM is checked by the SHA-256 of its
source, and the versions by their metadata: any difference means an
override may be wrong or no longer needed, so the loader refuses to run
before reading a message (README.md, "When a check fires").
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from functools import cached_property
from importlib import metadata
from typing import Any

from target_postgres_omniload import divergences

EXPECTED = {"meltanolabs-target-postgres": "0.8.1", "singer-sdk": "0.54.9"}


class IncompatibleTargetError(RuntimeError):
    """The installed target-postgres is not the code our overrides were written for."""


def resolve(name: str) -> Any:
    """'connector.PostgresConnector.create_engine' (under target_postgres) or
    'singer_sdk.io_base.SingerReader.deserialize_json' -> that function (a
    cached property's getter, an inherited method as its class defines it)."""
    module, cls, attribute = name.rsplit(".", 2)
    if not module.startswith("singer_sdk"):
        module = f"target_postgres.{module}"
    owner = getattr(importlib.import_module(module), cls)
    for klass in owner.__mro__:
        if attribute in vars(klass):
            value = vars(klass)[attribute]
            return value.func if isinstance(value, cached_property) else value
    raise AttributeError(name)


def source_sha256(obj: Any) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def pin_problems() -> list[str]:
    problems = []
    for package, version in EXPECTED.items():
        installed = metadata.version(package)
        if installed != version:
            problems.append(f"{package} {installed} is installed, the overrides are for {version}")
    for pinned in divergences.UPSTREAM:
        actual = source_sha256(resolve(pinned.name))
        if actual != pinned.sha256:
            problems.append(f"source of {pinned.name} changed ({actual} != {pinned.sha256}; re-check rows "
                            f"{', '.join(divergences.rows_using(pinned))})")
    return problems


def check_target() -> None:
    problems = pin_problems()
    if problems:
        raise IncompatibleTargetError(
            "target-postgres-omniload refuses to run: the target-postgres code it overrides is not as "
            "expected (target-postgres-omniload/README.md, 'When a check fires'): " + "; ".join(problems))
