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


@pytest.fixture(scope="module")
def registry(target_python) -> dict:
    result = subprocess.run([str(target_python), "-c", _REGISTRY], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


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


def test_every_guarding_test_exists(registry):
    ids = sorted({t for d in registry["divergences"] for t in d["tests"]})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *ids],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = result.stdout.splitlines()
    for node_id in ids:
        assert any(line == node_id or line.startswith(node_id + "[") for line in collected), node_id


def test_every_divergence_is_guarded_by_a_test_of_the_loader(registry):
    for d in registry["divergences"]:
        assert any(t.startswith("tests/target/") for t in d["tests"]), d["id"]


def test_the_readme_table_is_the_registry(target_python):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "loader_divergences.py"), "--check", "--python",
         str(target_python)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pins_command_reports_every_pin_ok(target_python, registry):
    result = subprocess.run([str(target_python), "-m", "target_duckdb_omniload", "--pins"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(registry["pinned"])
    assert all(line.startswith("ok ") for line in lines), lines
