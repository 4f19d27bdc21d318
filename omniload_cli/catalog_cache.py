"""The tap's discovered catalog, cached between runs.

`tap-asana --discover` is a large share of every run's fixed cost (it starts
the tap and builds every schema), and its answer depends only on the tap's
code and schemas (Asana's catalog is static).  The cache key is a hash of the
tap's sources (installed editable in a clone, so they are what runs): a
changed schema or stream is rediscovered, nothing else is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from omniload_cli import sources

TAP_PACKAGE = sources.tap_dir() / "tap_asana"


def _tap_fingerprint(tap_exe: str) -> str:
    digest = hashlib.sha256(os.path.realpath(tap_exe).encode())
    for path in sorted(TAP_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(TAP_PACKAGE)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def cached_discover(tap_exe: str, home: str, discover: Callable[[], dict]) -> dict:
    """The catalog from the cache, or from `discover()` (then cached)."""
    cache = Path(home) / "catalogs" / f"{_tap_fingerprint(tap_exe)}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    catalog = discover()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(catalog))
        os.replace(tmp, cache)  # atomic: parallel runs never read half a file
    except OSError:
        pass  # a cache we cannot write only costs time
    return catalog
