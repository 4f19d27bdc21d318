"""omniload installed as a tool (`uv tool install .`), not run from the clone.

The wheel carries the tap, the loader and the simulator; the installed
omniload builds their environments in the user's data directory and works
with no clone in sight.
"""

from __future__ import annotations

import shutil
import subprocess

import duckdb
import pytest

from tests.omniload.support import REPO, clean_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    from uv import find_uv_bin

    uv = str(find_uv_bin())
    base = tmp_path_factory.mktemp("tool")
    # A copy of the clone: building a wheel must not depend on (or touch)
    # the working tree's environments.
    clone = base / "clone"
    shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(
        ".git", ".omniload", ".meltano", "__pycache__", "*.egg-info", "build", "*.db", "*.db.wal", "results"))
    env = clean_env(UV_TOOL_DIR=base / "tools", UV_TOOL_BIN_DIR=base / "bin")
    r = subprocess.run([uv, "tool", "install", "--quiet", "-c", str(clone / "requirements.lock"), str(clone)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(clone)                  # the installed omniload needs no clone
    return base


def test_the_installed_command_runs_the_demo(installed, tmp_path):
    data = tmp_path / "data"
    db = tmp_path / "demo.db"
    r = subprocess.run([str(installed / "bin" / "omniload"), "demo", "--dest-uri", f"duckdb:///{db}",
                        "--projects", "2", "--tasks-per-project", "3", "--progress", "log"],
                       env=clean_env(XDG_DATA_HOME=data), cwd=tmp_path, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    # Its environments went to the user's data directory, from the bundled sources.
    envs = data / "omniload" / "envs"
    assert (envs / "tap" / "bin" / "tap-asana").exists()
    assert (envs / "target" / "bin" / "target-duckdb-omniload").exists()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM public.tasks").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM public.projects").fetchone()[0] == 2


def test_the_installed_command_loads_postgresql(installed, tmp_path, pg_db):
    """The PostgreSQL loader's environment is built from the wheel's bundled sources too."""
    from tests import pg_reader
    from tests.expected import expected_gids
    from tests.omniload.support import make_sim, source_uri

    data = tmp_path / "data"
    sim = make_sim(projects=2, tasks_per_project=3)
    try:
        r = subprocess.run([str(installed / "bin" / "omniload"), "ingest", "--source-table", "tasks",
                            "--dest-table", "public.tasks", "--progress", "log"],
                           env=clean_env(XDG_DATA_HOME=data, SOURCE_URI=source_uri(sim), DESTINATION_URI=pg_db.uri),
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        assert {g for (g,) in pg_reader.query(pg_db, "SELECT gid FROM public.tasks")} == expected_gids(sim, "tasks")
    finally:
        sim.stop()
    assert (data / "omniload" / "envs" / "target-postgres" / "bin" / "target-postgres-omniload").exists()
