"""Fixtures for the target-duckdb-omniload tests.

The tests run the real console script as a subprocess.  Which one:
  * $OMNILOAD_TARGET_BIN, if set (must be the target-duckdb-omniload executable);
  * otherwise .omniload/envs/target/bin/target-duckdb-omniload at the repo root,
    built by ensure_target_env() with
    `python3 -m venv` + `pip install -c target-config/requirements.lock ./target-config`
    and rebuilt when anything under target-config/ changes (it is a regular,
    non-editable install, so a stale copy would test old code).

The database files are checked in-process with the duckdb package (2.0.1 in
the test environment, the same version the target venv pins).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET_CONFIG = REPO_ROOT / "target-config"
DEFAULT_TARGET_ENV = REPO_ROOT / ".omniload" / "envs" / "target"


def _target_config_stamp() -> str:
    """Hash of what the venv install is built from (not of build/ or egg-info)."""
    digest = hashlib.sha256()
    inputs = [TARGET_CONFIG / "pyproject.toml", TARGET_CONFIG / "requirements.lock"]
    inputs += sorted((TARGET_CONFIG / "src").rglob("*.py"))
    for path in inputs:
        digest.update(str(path.relative_to(TARGET_CONFIG)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_target_env(env_dir: Path = DEFAULT_TARGET_ENV) -> Path:
    """Return the target-duckdb-omniload executable in env_dir, (re)building the venv if needed."""
    executable = env_dir / "bin" / "target-duckdb-omniload"
    stamp_file = env_dir / ".target-config-stamp"
    stamp = _target_config_stamp()
    if executable.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return executable
    python = env_dir / "bin" / "python"
    if not python.exists():
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [shutil.which("python3") or sys.executable, "-m", "venv", str(env_dir)], check=True
        )
        (env_dir / ".gitignore").write_text("*\n")
    # pip always reinstalls a local directory, so this also refreshes a stale copy.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(TARGET_CONFIG / "requirements.lock"), str(TARGET_CONFIG)],
        check=True,
    )
    stamp_file.write_text(stamp)
    return executable


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "upstream_bug: documents a bug of the unpatched target-duckdb; when it starts "
        "failing the upstream is fixed and our workaround can go",
    )


@pytest.fixture(scope="session")
def target_bin() -> Path:
    env_bin = os.environ.get("OMNILOAD_TARGET_BIN")
    if env_bin:
        path = Path(env_bin)
        assert path.is_file(), f"OMNILOAD_TARGET_BIN={env_bin} does not exist"
        return path
    return ensure_target_env()


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
        config_path = self.tmp_path / "target-config.json"
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
        import duckdb

        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def target(target_bin, tmp_path) -> Target:
    return Target(target_bin, tmp_path)


@pytest.fixture
def plain_target(plain_target_bin, tmp_path) -> Target:
    return Target(plain_target_bin, tmp_path)
