"""Applying the registry (divergences.py) to the imported target-duckdb."""

from __future__ import annotations

from target_duckdb_omniload import divergences, upstream
from target_duckdb_omniload.pin import check_target

_applied = False


def apply_patches() -> None:
    """Check the pin, then rebind every name in divergences.PATCHES and run
    divergences.SETUP; a second call does nothing."""
    global _applied
    if _applied:
        return
    problems = divergences.registry_problems()
    if problems:
        raise RuntimeError("target-duckdb-omniload's divergence registry is inconsistent: " + "; ".join(problems))
    check_target()
    for patch in divergences.PATCHES:
        for name in patch.names:
            upstream.bind(name, patch.replacement)
    for setup in divergences.SETUP:
        setup()
    _applied = True
