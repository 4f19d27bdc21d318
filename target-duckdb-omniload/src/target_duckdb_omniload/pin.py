"""The upstream pin: the installed target-duckdb must be exactly the 0.8.0
code the divergences (divergences.py) were written against.

Every object in divergences.UPSTREAM is checked by the SHA-256 of its
source, and the version by its metadata.  Any difference means a patch may be
wrong, no longer reached, or no longer needed (upstream fixed it): refuse to
run before a single message is read.  README.md, "When a check fires", says
what to do.
"""

from __future__ import annotations

from importlib import metadata

from target_duckdb_omniload import divergences, upstream

EXPECTED_TARGET_VERSION = "0.8.0"


class IncompatibleTargetError(RuntimeError):
    """The installed target-duckdb is not the code our patches were written for."""


def pin_problems() -> list[str]:
    problems = []
    version = metadata.version("target-duckdb")
    if version != EXPECTED_TARGET_VERSION:
        problems.append(f"target-duckdb {version} is installed, the patches are for {EXPECTED_TARGET_VERSION}")
    for pinned in divergences.UPSTREAM:
        actual = upstream.source_sha256(upstream.resolve(pinned.name))
        if actual != pinned.sha256:
            problems.append(f"source of target_duckdb.{pinned.name} changed ({actual} != {pinned.sha256}; "
                            f"re-check rows {', '.join(divergences.rows_using(pinned))})")
    return problems


def check_target() -> None:
    """Raise IncompatibleTargetError unless target-duckdb is exactly the 0.8.0 code."""
    problems = pin_problems()
    if problems:
        raise IncompatibleTargetError(
            "target-duckdb-omniload refuses to run: the target-duckdb internals it patches "
            "are not as expected. For each row named below, see whether the new release does what "
            "target-duckdb-omniload does (then drop that divergence) or still needs it (then adapt "
            "and re-pin it): target-duckdb-omniload/README.md, 'When a check fires'. Details: "
            + "; ".join(problems)
        )
