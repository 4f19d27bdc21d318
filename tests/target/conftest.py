"""Fixtures for the target-duckdb-omniload tests.

The tests run the real console script as a subprocess: $OMNILOAD_TARGET_BIN
if set (./run-tests sets it), otherwise the one `./omniload setup` installs in
.omniload/envs/target (a regular, non-editable install that setup rebuilds
when anything under target-duckdb-omniload/ changes, so it never tests stale code).

The database files are checked in-process with the duckdb package (2.0.1 in
the test environment, the same version the target venv pins).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import duckdb_reader

DEFAULT_TARGET_ENV = Path(__file__).resolve().parents[2] / ".omniload" / "envs" / "target"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "upstream_bug: documents a bug of the unpatched target-duckdb; when it starts "
        "failing the upstream is fixed and our workaround can go",
    )


@pytest.fixture(scope="session")
def target_bin(request) -> Path:
    env_bin = os.environ.get("OMNILOAD_TARGET_BIN")
    if env_bin:
        path = Path(env_bin)
        assert path.is_file(), f"OMNILOAD_TARGET_BIN={env_bin} does not exist"
        return path
    request.getfixturevalue("omniload_ready")   # the environment users get, built if missing
    return DEFAULT_TARGET_ENV / "bin" / "target-duckdb-omniload"


@pytest.fixture(scope="session")
def plain_target_bin(target_bin) -> Path:
    """The unpatched `target-duckdb` entry point from the same venv."""
    path = target_bin.parent / "target-duckdb"
    assert path.is_file(), f"no plain target-duckdb next to {target_bin}"
    return path


@pytest.fixture(scope="session")
def target_python(target_bin) -> Path:
    return target_bin.parent / "python"


class Target:
    """Runs a target executable on hand-written Singer messages."""

    def __init__(self, executable: Path, tmp_path: Path):
        self.executable = executable
        self.tmp_path = tmp_path
        self.db_path = tmp_path / "work.db"

    def config(self, **overrides) -> dict:
        config = {"path": str(self.db_path), "default_target_schema": "public"}
        config.update(overrides)
        return config

    def run(self, messages, config=None, env=None, timeout=120, check=True):
        config_path = self.tmp_path / "target-duckdb-omniload.json"
        config_path.write_text(json.dumps(config if config is not None else self.config()))
        lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
        result = subprocess.run(
            [str(self.executable), "--config", str(config_path)],
            input="".join(line + "\n" for line in lines).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        result.stdout_text = result.stdout.decode("utf-8")
        result.stderr_text = result.stderr.decode("utf-8", "replace")
        if check:
            assert result.returncode == 0, result.stderr_text
        return result

    def query(self, sql, params=None):
        return duckdb_reader.query(self.db_path, sql, *(params or []))


@pytest.fixture
def target(target_bin, tmp_path) -> Target:
    return Target(target_bin, tmp_path)


@pytest.fixture
def plain_target(plain_target_bin, tmp_path) -> Target:
    return Target(plain_target_bin, tmp_path)
