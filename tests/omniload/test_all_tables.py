"""Several tables in one run: `--source-table all` (or a list) and `--dest-schema`.

One tap extracts every table, listing each thing once; one transaction
publishes every table and its bookmark.  Real ./omniload, real simulator
over HTTP, real DuckDB files and a real PostgreSQL server (the tests whose
meaning does not depend on the destination run on both).
"""

from __future__ import annotations

import random

import pytest

from omniload_cli.tables import TABLES
from tests.dest_reader import snapshot
from tests.expected import expected_gids
from tests.omniload.support import clean_env, dest_uri, make_sim, run_omniload, source_uri
from tests.postgres_server import Database

pytestmark = pytest.mark.slow

SPEC = dict(projects=4, tasks_per_project=6, seed=11, multi_homed_fraction=0.25, stories_per_task=(0, 3))


@pytest.fixture
def sim():
    simulator = make_sim(**SPEC)
    yield simulator
    simulator.stop()


@pytest.fixture
def dest_pair(request, tmp_path):
    """Two empty destinations of one kind (the parameter): a run of every
    table, and one run per table."""
    if request.param == "duckdb":
        return tmp_path / "one.db", tmp_path / "each.db"
    server = request.getfixturevalue("pg_server")
    return Database(server, server.create_database()), Database(server, server.create_database())


def ingest_many(sim, db, tables: str, *extra, env_extra=None):
    return run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", tables,
                        "--dest-uri", dest_uri(db), "--dest-schema", "public", "--progress", "log",
                        *extra, env=clean_env(**(env_extra or {})), timeout=300)


def ingest_one(sim, db, table: str, *extra):
    return run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", table,
                        "--dest-uri", dest_uri(db), "--dest-table", f"public.{table}",
                        "--progress", "log", *extra, timeout=300)


def visible(db) -> dict:
    return {k: v for k, v in snapshot(db).items() if "._omniload_stage_" not in k}


def tables_only(snap: dict) -> dict:
    return {name: rows for name, rows in snap.items() if not name.startswith("_omniload.")}


def mutate(sim, n: int, seed: int) -> None:
    """Edits, new tasks, comments, a deletion and a rename: something for every table."""
    rng = random.Random(seed)
    store, ws = sim.store, sim.org_workspace_gid
    for _ in range(n):
        tasks = store.gids("tasks", ws)
        task = rng.choice(tasks)
        store.edit_task(task, name=f"edited {rng.random():.6f}")
        store.add_story(task, f"comment {rng.random():.6f}")
    store.add_task(rng.choice(store.gids("projects", ws)), name=f"brand new {seed}")
    store.delete_task(rng.choice(store.gids("tasks", ws)))
    store.rename("projects", rng.choice(store.gids("projects", ws)), "Renamed project")


# Each strategy on DuckDB; on PostgreSQL merge, which covers more of its
# publish (merge and replace tables both) than the defaults do.
@pytest.mark.parametrize("dest_pair, strategy", [("duckdb", None), ("duckdb", "merge"), ("postgres", "merge")],
                         indirect=["dest_pair"], ids=["duckdb-default", "duckdb-merge", "postgres-merge"])
def test_one_run_equals_the_single_table_runs(sim, dest_pair, strategy):
    """Row for row, first load and a recurring run after changes."""
    extra = ["--incremental-strategy", strategy] if strategy else []
    one, each = dest_pair
    for round_no in range(2):
        r = ingest_many(sim, one, "all", *extra)
        assert r.returncode == 0, r.stderr
        for table in TABLES.values():
            own = extra if table.is_incremental(strategy or "") else []
            r1 = ingest_one(sim, each, table.name, *own)
            assert r1.returncode == 0, r1.stderr
        a, b = tables_only(snapshot(one)), tables_only(snapshot(each))
        assert set(a) == {f"public.{t}" for t in TABLES}
        for name in sorted(a):
            assert a[name] == b[name], f"round {round_no}: {name} differs"
        mutate(sim, 3, seed=round_no)


def test_the_summary_shows_every_table(sim, tmp_path):
    r = ingest_many(sim, tmp_path / "w.db", "tasks,users,projects")
    assert r.returncode == 0, r.stderr
    sources = [line.split("/ ")[-1] for line in r.stdout.splitlines() if line.startswith("source:")]
    assert sources == ["projects", "tasks", "users"]          # the tap's order
    assert r.stdout.count("rows in table:") == 3 and r.stdout.count("duration:") == 1


def by_route(sim) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in sim.requests:
        if request.status == 200:
            counts[request.route] = counts.get(request.route, 0) + 1
    return counts


@pytest.mark.parametrize("strategy", [None, "merge"])
def test_a_full_run_lists_each_thing_once(sim, tmp_path, strategy):
    """4 + 2 x projects + tasks + tasks with subtasks: workspaces, projects,
    tags, users (teams: one more in an organization), each project's
    sections and tasks once, one stories request per task, one subtasks
    request per task with subtasks (pages of 100: these listings fit one),
    and one events call per project for its first sync token (a 412).
    Under merge the stories need the task index too, and the subtasks
    always: the tasks' complete listing is that index."""
    sim.reset_request_log()
    r = ingest_many(sim, tmp_path / "w.db", "all", *(["--incremental-strategy", strategy] if strategy else []))
    assert r.returncode == 0, r.stderr
    projects = len(expected_gids(sim, "projects"))
    tasks = len(expected_gids(sim, "tasks"))
    routes = by_route(sim)
    assert routes.get("GET /projects/{project_gid}/sections") == projects, routes
    assert routes.get("GET /tasks") == projects, routes                      # ?project=, once each
    assert routes.get("GET /tasks/{task_gid}/stories") == tasks, routes
    assert routes.get("GET /workspaces/{workspace_gid}/projects") == 1, routes
    parents = [g for g in expected_gids(sim, "tasks") | expected_gids(sim, "subtasks")
               if sim.store.record("tasks", g)["num_subtasks"]]
    assert parents and routes.get("GET /tasks/{task_gid}/subtasks") == len(parents), routes
    assert sim.request_count(route="GET /events", status=412) == sim.request_count(route="GET /events") == projects
    assert sum(routes.values()) <= 5 + 2 * projects + tasks + len(parents), routes


def test_a_recurring_merge_run_takes_the_task_index_once(sim, tmp_path):
    """tasks and stories both need every project's compact task index: one
    listing per project serves both."""
    db = tmp_path / "w.db"
    assert ingest_many(sim, db, "tasks,stories", "--incremental-strategy", "merge").returncode == 0
    task = sorted(expected_gids(sim, "tasks"))[0]
    sim.store.add_story(task, "one new comment")          # moves the task's modified_at
    sim.reset_request_log()
    r = ingest_many(sim, db, "tasks,stories", "--incremental-strategy", "merge")
    assert r.returncode == 0, r.stderr
    projects = len(expected_gids(sim, "projects"))
    # Each project's index once; the one changed task fetched once, its
    # stories once: nothing listed twice.
    assert by_route(sim) == {"GET /workspaces/{workspace_gid}/projects": 1, "GET /tasks": projects,
                             "GET /tasks/{task_gid}": 1, "GET /tasks/{task_gid}/stories": 1}


def test_a_failure_in_the_last_table_changes_no_table(sim, dest):
    db = dest
    assert ingest_many(sim, db, "all").returncode == 0
    before = snapshot(db)
    mutate(sim, 3, seed=9)
    sim.faults.deny("/users", 403)            # users is synced last
    try:
        r = ingest_many(sim, db, "all")
    finally:
        sim.faults.clear()
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("omniload: error: "), r.stderr
    assert snapshot(db) == before             # tables and bookmarks as they were


@pytest.mark.parametrize("point", ["in-publish", "before-commit"])
def test_sigkill_inside_the_shared_publish_leaves_all_old(sim, dest, point):
    db = dest
    assert ingest_many(sim, db, "all", "--incremental-strategy", "merge").returncode == 0
    before = snapshot(db)
    mutate(sim, 3, seed=3)
    r = ingest_many(sim, db, "all", "--incremental-strategy", "merge",
                    env_extra={"OMNILOAD_TEST_HOOK": f"{point}:kill"})
    assert r.returncode == -9
    assert visible(db) == before          # the killed run's stages are no table's, and go next run
    r = ingest_many(sim, db, "all", "--incremental-strategy", "merge")   # and the next run is whole
    assert r.returncode == 0, r.stderr
    after = snapshot(db)
    assert after != before and set(after) == set(before)


@pytest.mark.parametrize("args, message", [
    (["--source-table", "all", "--dest-table", "public.tasks"], "--dest-table names one table, and 9 are loaded"),
    (["--source-table", "tasks", "--dest-table", "public.t", "--dest-schema", "public"],
     "give --dest-table (one table) or --dest-schema"),
    (["--source-table", "projects,users", "--incremental-strategy", "merge"],
     "--incremental-strategy merge applies to none of projects, users (only to tasks, subtasks, stories)"),
    (["--source-table", "all", "--interval-start", "2024-01-01"],
     "--interval-start/--interval-end apply only to tasks"),
    (["--source-table", "tasks,nope"], "unknown source table 'nope'"),
    (["--source-table", "all,tasks"], "--source-table all already names every table"),
    (["--source-table", "all", "--dest-schema", "a.b"], "invalid --dest-schema 'a.b'"),
])
def test_usage_errors_are_one_line(tmp_path, args, message):
    r = run_omniload("ingest", "--source-uri", "asana://1?access_token=x", "--dest-uri",
                     f"duckdb:///{tmp_path / 'w.db'}", *args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not (tmp_path / "w.db").exists()
