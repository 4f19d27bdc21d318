"""Merged tables stay exact over many recurring runs.

Rounds of ordinary Asana activity (edits, new tasks and comments) mixed with
every kind of removal (deleted tasks, tasks removed from one or from all of
their projects, moves, renamed projects and sections, deleted projects,
deleted comments) and of subtask changes (new, edited, completed, deleted,
nested, un-nested, moved, restored, parents deleted); after each round a
merge run of `tasks` and `subtasks` and one of `stories`, and the tables
must equal the simulator's own data.  On a DuckDB file and on a PostgreSQL
server. (Subtask changes stay at the level the projects' events carry in the
simulator's default; tests/tap/test_subtasks.py covers deeper ones and the
walk that brings them.)
"""

from __future__ import annotations

import json
import random

import pytest

from tests.dest_reader import columns, loaded_records, query, snapshot
from tests.expected import assert_same_records, expected_gids, expected_rows
from tests.omniload.support import clean_env, dest_uri, ingest, make_sim, run_omniload, source_uri
from tests.reliability.support import tap_settings
from tests.subtask_changes import change_subtasks

pytestmark = pytest.mark.slow

SPEC = dict(projects=12, tasks_per_project=25, multi_homed_fraction=0.2, stories_per_task=(0, 3))


def mutate(sim, rng: random.Random, n: int) -> list[str]:
    """n random changes of every kind; what was done, for failure messages."""
    store, ws = sim.store, sim.org_workspace_gid
    done = []
    for _ in range(n):
        projects = store.gids("projects", ws)
        tasks = sorted(expected_gids(sim, "tasks"))
        kind = rng.choice(["edit", "edit", "add_task", "add_story", "delete_task", "remove",
                           "unlink", "move", "multi_home", "rename_project", "rename_section",
                           "delete_story", "delete_project", "subtasks", "subtasks"])
        task = rng.choice(tasks)
        record = store.record("tasks", task)
        if kind == "edit":
            store.edit_task(task, name=f"edited {rng.random():.6f}", completed=rng.random() < 0.3)
        elif kind == "add_task":
            store.add_task(rng.choice(projects), name=f"new {rng.random():.6f}")
        elif kind == "add_story":
            store.add_story(task, f"comment {rng.random():.6f}")
        elif kind == "delete_task":
            store.delete_task(task)
        elif kind == "remove":
            store.remove_task_from_project(task, rng.choice(record["projects"])["gid"])
        elif kind == "unlink":
            for project in record["projects"]:
                store.remove_task_from_project(task, project["gid"])
        elif kind == "move":
            store.move_task(task, rng.choice(projects))
        elif kind == "multi_home":
            store.add_task_to_project(task, rng.choice(projects))
        elif kind == "rename_project":
            store.rename("projects", rng.choice(projects), f"Project {rng.random():.6f}")
        elif kind == "rename_section":
            sections = store.gids("sections", ws)
            store.rename("sections", rng.choice(sections), f"Section {rng.random():.6f}")
        elif kind == "delete_story":
            stories = store.stories_of(task)
            if not stories:
                continue
            store.delete_story(rng.choice(stories)["gid"])
        elif kind == "delete_project":
            if len(projects) < 6:
                continue
            store.delete_project(rng.choice(projects))
        elif kind == "subtasks":
            done += change_subtasks(sim, rng, 1, max_depth=1)
            continue
        done.append(f"{kind} {task}")
    return done


def live_fields(task: dict) -> tuple:
    projects = sorted((p["gid"], p["name"]) for p in task["projects"])
    memberships = sorted((m["project"]["gid"], m["project"]["name"], (m.get("section") or {}).get("name"))
                         for m in task["memberships"])
    parent = task["parent"] and (task["parent"]["gid"], task["parent"]["name"])
    return task["name"], task["completed"], projects, memberships, parent, task["num_subtasks"]


def _json(value):
    """A JSON column's value: DuckDB hands out its text, PostgreSQL the value."""
    return json.loads(value) if isinstance(value, str) else value


def table_tasks(db, table: str) -> dict:
    rows = query(db, f"SELECT gid, name, completed, projects, memberships, parent, num_subtasks FROM public.{table}")
    return {gid: live_fields({"name": name, "completed": completed, "projects": _json(projects),
                              "memberships": _json(memberships), "parent": _json(parent),
                              "num_subtasks": num_subtasks})
            for gid, name, completed, projects, memberships, parent, num_subtasks in rows}


def assert_exact(sim, db, history):
    for table in ("tasks", "subtasks"):
        want = {g: live_fields(sim.store.record("tasks", g)) for g in expected_gids(sim, table)}
        got = table_tasks(db, table)
        assert set(got) == set(want), (table, sorted(set(got) ^ set(want))[:10], history)
        wrong = [g for g in want if got[g] != want[g]]
        assert not wrong, (table, wrong[:5], [(want[g], got[g]) for g in wrong[:2]], history)
    stories = {g for (g,) in query(db, "SELECT gid FROM public.stories")}
    assert stories == expected_gids(sim, "stories"), (
        sorted(stories ^ expected_gids(sim, "stories"))[:10], history)


def sync(sim, db, env_extra=None):
    """tasks and subtasks in one run (they share the task index), stories in
    another; each summary's row count is the table's."""
    for tables, extra in (("tasks,subtasks", ()), ("stories", ("--incremental-strategy", "merge"))):
        r = run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", tables, "--dest-uri",
                         dest_uri(db), "--dest-schema", "public", "--progress", "log", *extra,
                         env=clean_env(**(env_extra or {})), timeout=300)
        assert r.returncode == 0, r.stderr
        counts = [int(part.split()[0].replace(",", "")) for part in r.stdout.split("rows in table:")[1:]]
        assert counts == [query(db, f"SELECT count(*) FROM public.{t}")[0][0] for t in tables.split(",")], r.stdout


def destination(kind: str, tmp_path, request):
    if kind == "duckdb":
        return tmp_path / "w.db"
    return request.getfixturevalue("pg_db")


# Two seeds (two histories of 125 changes), one on each destination.
@pytest.mark.parametrize("kind, seed", [("duckdb", 1), ("postgres", 2)])
def test_merged_tables_stay_exact_round_after_round(tmp_path, omniload_ready, request, kind, seed):
    sim = make_sim(**SPEC, seed=seed)
    try:
        db = destination(kind, tmp_path, request)
        sync(sim, db)
        rng, history = random.Random(seed), []
        for _ in range(5):
            history += mutate(sim, rng, 25)
            sync(sim, db)
            assert_exact(sim, db, history)
        # After all those merges, every column of every row, not only the
        # fields the changes touch. (Not stories: a system story names the
        # project or section it is about, and README says such a name stays
        # as read until the story's task changes.)
        for table in ("tasks", "subtasks"):
            types = columns(db, f"public.{table}")
            assert_same_records(loaded_records(db, f"public.{table}"), expected_rows(sim, table, types),
                                f"public.{table} after {len(history)} changes")
    finally:
        sim.stop()


def test_exact_under_faults(tmp_path, omniload_ready):
    sim = make_sim(**SPEC, seed=3)
    try:
        db = tmp_path / "w.db"
        sync(sim, db)
        rng, history = random.Random(3), []
        sim.faults.configure(rate=0.1, seed=5)
        for _ in range(3):
            history += mutate(sim, rng, 20)
            sync(sim, db, env_extra=tap_settings(max_tries=12, page_size=10))
            assert_exact(sim, db, history)
    finally:
        sim.stop()


@pytest.mark.parametrize("kind, table", [("duckdb", "tasks"), ("duckdb", "subtasks"), ("duckdb", "stories"),
                                         ("postgres", "tasks"), ("postgres", "subtasks")])
def test_a_run_killed_inside_its_publish_of_removals_changes_nothing(tmp_path, omniload_ready, request, kind,
                                                                     table):
    """SIGKILL inside the publish transaction of a run that had removals to
    publish (rows deleted, bookmark not yet written): the table and its
    bookmark stay as they were, and the next run publishes the removals."""
    sim = make_sim(**SPEC, seed=4)
    try:
        db = destination(kind, tmp_path, request)
        sync(sim, db)
        history = mutate(sim, random.Random(4), 30)
        if table == "subtasks":   # one removal at least: a first-level subtask deleted
            sim.store.delete_task(min(g for g in expected_gids(sim, "subtasks")
                                      if sim.store.record("tasks", g)["parent"]["gid"] in expected_gids(sim, "tasks")))
        before = published(snapshot(db))
        extra = ("--incremental-strategy", "merge") if table == "stories" else ()
        r = ingest(sim, db, table, *extra, env_extra={"OMNILOAD_TEST_HOOK": "in-publish:kill"})
        assert r.returncode == -9, r.stderr
        assert published(snapshot(db)) == before
        sync(sim, db)
        assert_exact(sim, db, history)
    finally:
        sim.stop()


def published(tables: dict) -> dict:
    """A snapshot without the stage a killed run leaves (the next run drops it)."""
    return {name: rows for name, rows in tables.items() if "_omniload_stage_" not in name}
