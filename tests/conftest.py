"""Fixtures for more than one test directory."""

from __future__ import annotations

import subprocess

import pytest

from tests.omniload.support import OMNILOAD, clean_env


@pytest.fixture(scope="session")
def omniload_ready():
    """./omniload setup once per session (the first run builds the envs)."""
    r = subprocess.run([str(OMNILOAD), "setup"], env=clean_env(), capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    return OMNILOAD
