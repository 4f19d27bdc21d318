"""A fresh machine gets what the tests passed with: every package installed
in the environments that ./omniload setup and ./run-tests build is pinned,
at that exact version, in the lock file the set-up installs with."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENVS = REPO / ".omniload" / "envs"
# The projects of this repository, and the installers themselves.
LOCAL = {"omniload", "tap-asana", "tap-asana-omniload", "target-duckdb-omniload", "target-postgres-omniload",
         "asana-simulator", "pip", "setuptools", "wheel"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: not an exact pin: {line!r}"
            pins[_norm(name)] = version.strip()
    return pins


def installed(env: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(env / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, check=True).stdout
    return {_norm(k): v for k, v in json.loads(out).items() if _norm(k) not in LOCAL}


@pytest.mark.parametrize("env, lock", [
    ("omniload", "requirements.lock"),
    ("tap", "tap-asana/requirements.lock"),
    ("target", "target-duckdb-omniload/requirements.lock"),
    ("target-postgres", "target-postgres-omniload/requirements.lock"),
    ("dev", "requirements-dev.lock"),
])
def test_installed_environment_matches_its_lock(omniload_ready, env, lock):
    path = ENVS / env
    if not (path / "bin" / "python").exists():
        pytest.skip(f"{path} not built (./run-tests builds it)")
    pins, have = read_lock(REPO / lock), installed(path)
    unpinned = sorted(set(have) - set(pins))
    assert not unpinned, f"installed in {env} but not pinned in {lock}: {unpinned}"
    wrong = {n: (v, pins[n]) for n, v in have.items() if pins[n] != v}
    assert not wrong, f"{env}: installed != {lock}: {wrong}"


def test_setup_and_run_tests_install_with_the_locks():
    from omniload_cli import environments

    assert [str(p.lock.relative_to(REPO)) for p in environments.programs()] == [
        "tap-asana/requirements.lock", "target-duckdb-omniload/requirements.lock"]
    assert str(environments.loader_program("postgres").lock.relative_to(REPO)) == \
        "target-postgres-omniload/requirements.lock"
    assert '-c "$ROOT/requirements.lock"' in (REPO / "omniload").read_text()
    assert "-c requirements-dev.lock" in (REPO / "run-tests").read_text()


def test_omniload_reads_with_the_duckdb_the_loader_writes_with():
    """Files the loader writes must open in omniload's own duckdb (and back)."""
    ours = read_lock(REPO / "requirements.lock")["duckdb"]
    assert ours == read_lock(REPO / "target-duckdb-omniload" / "requirements.lock")["duckdb"]
    assert f'"duckdb=={ours}"' in (REPO / "pyproject.toml").read_text()
    assert f'"duckdb=={ours}"' in (REPO / "target-duckdb-omniload" / "pyproject.toml").read_text()


def test_omniload_talks_to_postgresql_with_the_psycopg_the_loader_uses():
    ours = read_lock(REPO / "requirements.lock")
    theirs = read_lock(REPO / "target-postgres-omniload" / "requirements.lock")
    for package in ("psycopg", "psycopg-binary"):
        assert ours[package] == theirs[package], package
    assert f'"psycopg[binary]=={ours["psycopg"]}"' in (REPO / "pyproject.toml").read_text()
