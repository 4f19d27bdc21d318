"""Shared fixtures for the omniload tests.

Unit tests import omniload_cli directly (duckdb 2.0.1 in the test env, the
version the target writes with).  End-to-end tests run the real ./omniload
script as a subprocess against an in-process Asana simulator over real HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "asana-simulator"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

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


@pytest.fixture(scope="session")
def omniload_ready():
    """./omniload setup once per session (first run builds the envs)."""
    r = subprocess.run([str(OMNILOAD), "setup"], env=clean_env(), capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    return OMNILOAD


def pytest_configure(config):
    config.addinivalue_line("markers", "meltano: installs meltano 4.4.1 in a throwaway venv (slow)")
    config.addinivalue_line("markers", "e2e: runs ./omniload against the Asana simulator")
