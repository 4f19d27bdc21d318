"""meltano.yml works from a fresh copy, without Meltano Hub:
`meltano install` then `meltano run tap-asana target-duckdb` into work.db,
and `meltano run tap-asana target-postgres` into a real PostgreSQL server.

Installs meltano 4.4.1 into a throwaway venv (cached under .omniload/envs,
~30 s the first time); the plugins install with meltano's bundled uv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.duckdb_reader import query
from tests.expected import TABLES, expected_gids
from tests.omniload.support import REPO, SECRET_PART, TOKEN, make_sim

pytestmark = [pytest.mark.meltano, pytest.mark.slow]
MELTANO_VERSION = "4.4.1"


@pytest.fixture(scope="module")
def meltano() -> Path:
    env_dir = REPO / ".omniload" / "envs" / f"meltano-{MELTANO_VERSION}"
    exe = env_dir / "bin" / "meltano"
    if not exe.exists():
        shutil.rmtree(env_dir, ignore_errors=True)
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(env_dir)], check=True)
        subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"meltano=={MELTANO_VERSION}"],
                       check=True, timeout=900)
    return exe


def fresh_copy(dest: Path) -> Path:
    """What a fresh clone holds for Meltano: meltano.yml and the plugins."""
    junk = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")
    dest.mkdir()
    shutil.copy(REPO / "meltano.yml", dest)
    for d in ("tap-asana", "target-duckdb-omniload", "target-postgres-omniload"):
        shutil.copytree(REPO / d, dest / d, ignore=junk)
    return dest


def meltano_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


@pytest.fixture(scope="module")
def project(meltano, tmp_path_factory) -> Path:
    """A fresh clone's Meltano project after `meltano install` (every plugin,
    no Meltano Hub), shared by the tests: each loader keeps its own state."""
    project = fresh_copy(tmp_path_factory.mktemp("meltano") / "project")
    r = subprocess.run([str(meltano), "install"], cwd=project, env=meltano_env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hub.meltano.com" not in r.stdout + r.stderr
    return project


def test_meltano_install_and_run(meltano, project):
    env = meltano_env()

    sim = make_sim(projects=2, tasks_per_project=4, seed=5)
    try:
        # A subtask under the task deleted below, to leave with it.
        doomed = sim.store.add_subtask(sorted(expected_gids(sim, "tasks"))[1], name="goes with its parent")
        env.update(TAP_ASANA_ACCESS_TOKEN=TOKEN, TAP_ASANA_WORKSPACE_GID=sim.org_workspace_gid,
                   TAP_ASANA_API_URL=sim.api_url, TAP_ASANA_STORIES_INCREMENTAL="true")
        sim.reset_request_log()
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        # Every stream in one tap process: each project's tasks listed once
        # for both tasks and stories.
        projects = len(expected_gids(sim, "projects"))
        assert sim.request_count(route="GET /tasks", status=200) == projects
        db = project / "work.db"
        for table in ("tasks", "projects", "users"):
            got = {g for (g,) in query(db, f"SELECT gid FROM public.{table}")}
            assert got == expected_gids(sim, table), table
        # State went to Meltano's system db; a second run is incremental.
        gid = sorted(expected_gids(sim, "tasks"))[0]
        sim.store.edit_task(gid, name="changed between meltano runs")
        sim.reset_request_log()
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        assert sim.request_count(route="GET /tasks", status=200) == projects   # the index, once
        assert query(db, "SELECT name FROM public.tasks WHERE gid = ?", gid) == [("changed between meltano runs",)]
        assert query(db, "SELECT count(*) FROM public.tasks")[0][0] == len(expected_gids(sim, "tasks"))
        # Removals reach the tables: tombstones, which hard_delete honours.
        tasks = sorted(expected_gids(sim, "tasks"))
        deleted, unlinked, commented = tasks[1], tasks[2], tasks[3]
        subtask = sim.store.add_subtask(tasks[0], name="a subtask between meltano runs")
        deeper = sim.store.add_subtask(subtask, name="one level down")
        assert doomed in {g for (g,) in query(db, "SELECT gid FROM public.subtasks")}
        sim.store.delete_task(deleted)
        for home in sim.store.record("tasks", unlinked)["projects"]:
            sim.store.remove_task_from_project(unlinked, home["gid"])
        comment = sim.store.add_story(commented, "soon gone")
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        assert comment in {g for (g,) in query(db, "SELECT gid FROM public.stories")}
        assert {subtask, deeper} <= {g for (g,) in query(db, "SELECT gid FROM public.subtasks")}
        sim.store.delete_story(comment)
        sim.store.edit_task(subtask, name="a subtask edited")
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        for table in ("tasks", "subtasks", "stories"):
            got = {g for (g,) in query(db, f"SELECT gid FROM public.{table}")}
            assert got == expected_gids(sim, table), table
        assert query(db, "SELECT name FROM public.subtasks WHERE gid = ?", subtask) == [("a subtask edited",)]
        # Full-table streams replace: deleted and renamed rows show up.
        store, ws = sim.store, sim.org_workspace_gid
        store.delete_user(store.gids("users")[0])
        store.rename("tags", store.gids("tags", ws)[0], "renamed tag")
        store.delete_project(store.gids("projects", ws)[0])
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        for table in TABLES:
            got = {g for (g,) in query(db, f"SELECT gid FROM public.{table}")}
            assert got == expected_gids(sim, table), table
        assert ("renamed tag",) in query(db, "SELECT name FROM public.tags")
        # stream_maps is an object setting: `meltano config set` stores it as one.
        r = subprocess.run([str(meltano), "config", "set", "tap-asana", "stream_maps",
                            '{"users": {"name": "name.upper()"}}'], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([str(meltano), "run", "tap-asana", "target-duckdb"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        names = [n for (n,) in query(db, "SELECT name FROM public.users")]
        assert names and names == [n.upper() for n in names] != [n.lower() for n in names]
        assert query(db, "SELECT count(*) FROM public.users")[0][0] == len(expected_gids(sim, "users"))
        r = subprocess.run([str(meltano), "config", "list", "tap-asana"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)
        assert SECRET_PART not in r.stdout + r.stderr        # sensitive: true redacts it
    finally:
        sim.stop()


def test_meltano_run_into_postgres(meltano, project, pg_db):
    """target-postgres (target-postgres-omniload) under Meltano: every table
    exact, then removals: a deleted task and story leave (tombstones,
    hard_delete), a deleted user leaves once its extract is complete
    (ACTIVATE_VERSION), and the password shows nowhere."""
    from tests import pg_reader
    from tests.postgres_server import SECRET_PART as PG_SECRET

    env = meltano_env()
    sim = make_sim(projects=2, tasks_per_project=4, seed=6)
    try:
        env.update(TAP_ASANA_ACCESS_TOKEN=TOKEN, TAP_ASANA_WORKSPACE_GID=sim.org_workspace_gid,
                   TAP_ASANA_API_URL=sim.api_url, TAP_ASANA_STORIES_INCREMENTAL="true",
                   TARGET_POSTGRES_SQLALCHEMY_URL=pg_db.uri.replace("postgresql://", "postgresql+psycopg://"))

        def meltano_run():
            r = subprocess.run([str(meltano), "run", "tap-asana", "target-postgres"], cwd=project, env=env,
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
            assert PG_SECRET not in r.stdout + r.stderr and SECRET_PART not in r.stdout + r.stderr

        def gids(table):
            return {g for (g,) in pg_reader.query(pg_db, f"SELECT gid FROM public.{table}")}

        meltano_run()
        for table in TABLES:
            assert gids(table) == expected_gids(sim, table), table
        kinds = pg_reader.columns(pg_db, "public.tasks")
        assert (kinds["memberships"], kinds["modified_at"]) == ("jsonb", "timestamp with time zone")
        store = sim.store
        tasks = sorted(expected_gids(sim, "tasks"))
        comment = store.add_story(tasks[2], "soon gone")
        meltano_run()
        assert comment in gids("stories")
        store.delete_task(tasks[0])
        store.delete_story(comment)
        store.delete_user(store.gids("users")[0])
        store.rename("tags", store.gids("tags", sim.org_workspace_gid)[0], "renamed tag")
        meltano_run()
        for table in TABLES:
            assert gids(table) == expected_gids(sim, table), table
        assert ("renamed tag",) in pg_reader.query(pg_db, "SELECT name FROM public.tags")
    finally:
        sim.stop()


_KINDS = {"string": "string", "boolean": "boolean", "integer": "integer", "number": "decimal",
          "object": "object", "array": "array"}


def test_meltano_yml_declares_every_tap_setting():
    import yaml

    about = json.loads(subprocess.run(
        [sys.executable, "-m", "tap_asana", "--about", "--format=json"],
        capture_output=True, text=True, check=True).stdout)
    want = {}
    for name, prop in about["settings"]["properties"].items():
        kind = _KINDS[next(t for t in prop["type"] if t != "null")]
        if prop.get("format") == "date-time":
            kind = "date_iso8601"
        want[name] = (kind, bool(prop.get("secret")))
    plugin = yaml.safe_load((REPO / "meltano.yml").read_text())["plugins"]["extractors"][0]
    have = {s["name"]: (s["kind"], bool(s.get("sensitive"))) for s in plugin["settings"]}
    assert have == want
