"""Helpers for the omniload tests: running ./omniload for real."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OMNILOAD = REPO / "omniload"
# Environment variables omniload reads; cleared so the developer's shell
# cannot change what a test means.
_OURS = ("SOURCE_URI", "SOURCE_TABLE", "DESTINATION_URI", "DESTINATION_TABLE",
         "INCREMENTAL_STRATEGY", "INTERVAL_START", "INTERVAL_END", "FULL_REFRESH",
         "SKIP_CONFIRMATION", "PROGRESS")


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in _OURS and not k.startswith("OMNILOAD_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_omniload(*args, env: dict | None = None, cwd=None, timeout: float = 600,
                 **popen) -> subprocess.CompletedProcess:
    return subprocess.run([str(OMNILOAD), *map(str, args)], env=env or clean_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, **popen)
