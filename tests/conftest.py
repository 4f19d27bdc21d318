"""Fixtures for more than one test directory."""

from __future__ import annotations

import subprocess

import pytest

from tests import postgres_server
from tests.omniload.support import OMNILOAD, clean_env
from tests.postgres_server import Database


@pytest.fixture(scope="session")
def omniload_ready():
    """./omniload setup once per session (the first run builds the envs)."""
    r = subprocess.run([str(OMNILOAD), "setup"], env=clean_env(), capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    return OMNILOAD


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL 15 server of this test process (tests/postgres_server.py),
    started on first use: tests that need none never start one."""
    problem = postgres_server.available()
    if problem:
        pytest.fail(f"no PostgreSQL server for the tests: {problem}")   # never a silent skip
    server = postgres_server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_db(pg_server) -> Database:
    """A new, empty database owned by the tests' password role."""
    return Database(pg_server, pg_server.create_database())


@pytest.fixture(params=["duckdb", "postgres"])
def dest(request, tmp_path):
    """Where a destination-agnostic test loads: a DuckDB file, then a
    PostgreSQL database (tests.dest_reader reads either)."""
    if request.param == "duckdb":
        return tmp_path / "w.db"
    return request.getfixturevalue("pg_db")
