"""The divergence registry (target_duckdb_omniload/divergences.py) against the
code, the tests and the README.

The registry is read in the target's own environment (it imports
target-duckdb); the guarding tests are collected by pytest in this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs in the target environment: the registry, and which target-duckdb
# names importing the package and applying the patches rebind.
_REGISTRY = """
import json
import target_duckdb
from target_duckdb import db_sync, logger

NAMESPACES = {"": target_duckdb, "db_sync.": db_sync, "db_sync.DbSync.": db_sync.DbSync, "logger.": logger}

def names():
    return {prefix + k: v for prefix, ns in NAMESPACES.items() for k, v in list(vars(ns).items())}

def rebound(before, after):
    return sorted(k for k in before.keys() | after.keys() if before.get(k) is not after.get(k))

pristine = names()
from target_duckdb_omniload import apply_patches, divergences
imported = names()
apply_patches()
patched = names()
print(json.dumps({
    "problems": divergences.registry_problems(),
    "rebound_on_import": rebound(pristine, imported),
    "rebound_by_apply": rebound(imported, patched),
    "pinned": [u.name for u in divergences.UPSTREAM],
    "patches": [{"upstream": p.upstream.name, "names": list(p.names)} for p in divergences.PATCHES],
    "divergences": [{"id": d.id, "tests": list(d.tests), "changes": [u.name for u in d.changes]}
                    for d in divergences.DIVERGENCES],
}))
"""


def read_registry(python, code: str) -> dict:
    """What code prints (JSON), run in a loader's environment."""
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def registry(target_python) -> dict:
    return read_registry(target_python, _REGISTRY)


def test_the_registry_is_consistent(registry):
    assert registry["problems"] == []


def test_applying_the_patches_rebinds_exactly_the_registered_names(registry):
    assert registry["rebound_on_import"] == []
    registered = sorted(name for patch in registry["patches"] for name in patch["names"])
    assert registry["rebound_by_apply"] == registered


def test_every_patched_upstream_function_is_pinned_and_in_a_divergence(registry):
    changed = {name for d in registry["divergences"] for name in d["changes"]}
    for patch in registry["patches"]:
        assert patch["upstream"] in registry["pinned"], patch
        assert patch["upstream"] in changed, patch


def assert_tests_exist(divergences: list[dict]) -> None:
    """Every test a divergence names is one pytest collects."""
    ids = sorted({t for d in divergences for t in d["tests"]})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *ids],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = result.stdout.splitlines()
    for node_id in ids:
        assert any(line == node_id or line.startswith(node_id + "[") for line in collected), node_id


def test_every_guarding_test_exists(registry):
    assert_tests_exist(registry["divergences"])


def test_every_divergence_is_guarded_by_a_test_of_the_loader(registry):
    for d in registry["divergences"]:
        assert any(t.startswith("tests/target/") for t in d["tests"]), d["id"]


def test_the_readme_table_is_the_registry(target_python):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "loader_divergences.py"), "--check", "--loader", "duckdb",
         "--python", str(target_python)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pins_command_reports_every_pin_ok(target_python, registry):
    result = subprocess.run([str(target_python), "-m", "target_duckdb_omniload", "--pins"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(registry["pinned"])
    assert all(line.startswith("ok ") for line in lines), lines


# --- target-postgres-omniload: overrides in subclasses, not rebound names -------------------
_PG_REGISTRY = """
import json
from target_postgres_omniload import divergences
from target_postgres_omniload.connector import OmniloadConnector
from target_postgres_omniload.sink import OmniloadSink
from target_postgres_omniload.target import OrjsonReader, TargetPostgresOmniload
classes = {"OmniloadConnector": OmniloadConnector, "OmniloadSink": OmniloadSink,
           "TargetPostgresOmniload": TargetPostgresOmniload, "OrjsonReader": OrjsonReader}
def overrides(c):
    # What c defines that a base class defines too: upstream behaviour it replaces.
    return [a for a in vars(c) if not a.startswith("__") and a != "_abc_impl"
            and any(a in vars(b) for b in c.__mro__[1:])]
print(json.dumps({
    "problems": divergences.registry_problems(),
    "defined": sorted(f"{n}.{a}" for n, c in classes.items() for a in overrides(c)),
    "overrides": sorted(ours for d in divergences.DIVERGENCES for _, ours in d.overrides),
    "divergences": [{"id": d.id, "tests": list(d.tests)} for d in divergences.DIVERGENCES],
}))
"""
_PG_PYTHON = REPO_ROOT / ".omniload" / "envs" / "target-postgres" / "bin" / "python"

# Class attributes that are configuration, not overridden behaviour.
_PG_SETTINGS = {"OmniloadSink.connector_class", "TargetPostgresOmniload.name",
                "TargetPostgresOmniload.default_sink_class", "TargetPostgresOmniload.message_reader_class"}


@pytest.fixture(scope="module")
def pg_registry(omniload_ready) -> dict:
    return read_registry(_PG_PYTHON, _PG_REGISTRY)


def test_the_postgres_registry_is_consistent_and_names_every_override(pg_registry):
    assert pg_registry["problems"] == []
    assert sorted(set(pg_registry["defined"]) - _PG_SETTINGS) == pg_registry["overrides"]


def test_every_postgres_divergence_is_guarded_by_an_existing_test(pg_registry):
    assert all(any(t.startswith("tests/target/") for t in d["tests"]) for d in pg_registry["divergences"])
    assert_tests_exist(pg_registry["divergences"])


def test_the_postgres_readme_table_is_the_registry(omniload_ready):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "loader_divergences.py"), "--check", "--loader", "postgres",
         "--python", str(_PG_PYTHON)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_postgres_pins_are_ok(omniload_ready):
    result = subprocess.run([str(_PG_PYTHON), "-m", "target_postgres_omniload", "--pins"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.startswith("ok ") for line in result.stdout.splitlines()), result.stdout
