"""SIGKILL at seeded random points of a run -- in the tap, in the target, in
omniload itself, and at named points of its own bookkeeping around the
publish transaction (OMNILOAD_TEST_HOOK, see omniload_cli/testhooks.py).

After every kill the destination holds either the old table and the old
state, or the new table and the new state -- never a half-written replace
table, never a state ahead of its rows, never a staging table in the real
table's place -- and the next ordinary run produces exactly the right table.
The same on a DuckDB file and on a PostgreSQL server (a shorter list of
random kills there: the named points are where the destinations differ).
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.dest_reader import columns, loaded_records, query, snapshot, stored_state, table_rows
from tests.duckdb_reader import diff_rows
from tests.expected import assert_same_records, expected_gids, expected_rows
from tests.omniload.support import ingest
from tests.postgres_server import Database
from tests.reliability.support import (
    alive,
    cmdline,
    descendants,
    error_line,
    kill_tree,
    omniload_python,
    start,
    tap_settings,
    wait_for,
)

pytestmark = pytest.mark.slow
SEED = 20240607
SLOW_TAP = tap_settings(page_size=2, concurrency=1)
SIM_SPEC = dict(seed=9)


def _world(sim, base, db, fresh):
    """One destination that every scenario kills into and recovers, in turn."""
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    for table in ("tasks", "subtasks", "stories"):
        assert ingest(sim, db, table).returncode == 0
    w = {"db": db, "tmp": tmpdir, "outcomes": [], "edits": itertools.count(), "tables": set()}
    yield w
    # Finally: the merged tasks, after all those kills and incremental
    # recoveries, equal a fresh full load of the same data.
    for table in sorted(w["tables"] & {"tasks"}):
        assert ingest(sim, db, table).returncode == 0     # the source changed since
        assert ingest(sim, fresh, table).returncode == 0
        assert table_rows(db, f"public.{table}") == table_rows(fresh, f"public.{table}"), \
            diff_rows(db, fresh, f"public.{table}") if isinstance(db, Path) else table


@pytest.fixture(scope="module")
def world_duckdb(sim, tmp_path_factory, omniload_ready):
    base = tmp_path_factory.mktemp("kill")
    yield from _world(sim, base, base / "w.db", base / "fresh.db")


@pytest.fixture(scope="module")
def world_postgres(sim, tmp_path_factory, pg_server, omniload_ready):
    base = tmp_path_factory.mktemp("kill-pg")
    yield from _world(sim, base, Database(pg_server, pg_server.create_database()),
                      Database(pg_server, pg_server.create_database()))


def change_the_source(sim, n):
    """Something for the next run to bring: renamed tasks, a new story, a new subtask."""
    gids = sorted(expected_gids(sim, "tasks"))
    for g in (gids[n % len(gids)], gids[(n * 7 + 3) % len(gids)]):
        sim.store.edit_task(g, name=f"edit {n} of {g}")
    sim.store.add_story(gids[(n * 5 + 1) % len(gids)], f"story {n}")
    sim.store.add_subtask(gids[(n * 3 + 2) % len(gids)], name=f"subtask {n}")


def visible(db) -> dict:
    """What a reader sees: every table but the (never-published) stage."""
    return {k: v for k, v in snapshot(db).items() if "._omniload_stage_" not in k}


def assert_exact(sim, db, table):
    gids = [g for (g,) in query(db, f'SELECT gid FROM public."{table}"')]
    assert len(gids) == len(set(gids)), f"duplicates in {table}"
    assert set(gids) == expected_gids(sim, table), table
    name = f"public.{table}"
    assert_same_records(loaded_records(db, name), expected_rows(sim, table, columns(db, name)), name)


def killed_run(sim, world, table, how, delay=0.0):
    """Start a run, kill it as `how` says, return (returncode, stderr)."""
    db, tmpdir = world["db"], world["tmp"]
    env = dict(SLOW_TAP)
    if how.startswith("hook:"):
        env["OMNILOAD_TEST_HOOK"] = f"{how[5:]}:kill"
    sim.faults.set_latency(0 if how.startswith("hook:") else 50)
    try:
        proc = start(sim, db, table, env_extra=env, tmpdir=tmpdir)
        return _kill(proc, how, delay)
    finally:
        sim.faults.set_latency(0)


def _kill(proc, how, delay):
    pid = omniload_python(proc)
    seen: set[int] = set()

    def child(word):
        for p in descendants(pid):
            seen.add(p)
            if word in cmdline(p):
                return p
        return None

    try:
        if how in ("tap", "target", "target-loading"):
            tap = wait_for(lambda: child("--catalog") or proc.poll() is not None)
            target = child("bin/target-")            # the loader's program, whichever loader
            if how == "target-loading":       # the tap is done, the loader is writing
                wait_for(lambda: not alive(tap) or proc.poll() is not None, step=0.002)
            time.sleep(delay)
            victim = tap if how == "tap" else target
            if isinstance(victim, int):
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass                      # too late: it finished first
        elif how == "omniload":
            wait_for(lambda: child("--catalog") or proc.poll() is not None)
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
    # Whatever omniload's fate, its children must not outlive it for long
    # (PDEATHSIG), or they would hold the database lock against the next run.
    wait_for(lambda: not [p for p in seen if alive(p)], timeout=20)
    return proc.returncode, err


def _scenarios():
    rng = random.Random(SEED)
    out = []
    for table, kinds in (("tasks", ("tap", "target-loading", "omniload")),
                         ("stories", ("tap", "target", "target-loading", "omniload")),
                         ("subtasks", ("tap", "omniload"))):
        for how in kinds:
            hi = {"tap": 0.9, "target": 0.9, "target-loading": 0.15, "omniload": 1.2}[how]
            out.append(("duckdb", table, how, round(rng.uniform(0.0 if how == "target-loading" else 0.1, hi), 3)))
    for point in ("before-load", "before-publish", "in-publish", "before-commit", "after-commit"):
        out.append(("duckdb", "tasks", f"hook:{point}", 0.0))
    out.append(("duckdb", "stories", "hook:in-publish", 0.0))
    out.append(("duckdb", "subtasks", "hook:in-publish", 0.0))
    # PostgreSQL: every named point, and a kill of each process mid-run.
    for how in ("tap", "target", "target-loading", "omniload"):
        hi = {"tap": 0.9, "target": 0.9, "target-loading": 0.15, "omniload": 1.2}[how]
        out.append(("postgres", "stories", how, round(rng.uniform(0.0 if how == "target-loading" else 0.1, hi), 3)))
    for point in ("before-load", "before-publish", "in-publish", "before-commit", "after-commit"):
        out.append(("postgres", "tasks", f"hook:{point}", 0.0))
    return out


@pytest.mark.parametrize("kind, table, how, delay", _scenarios(),
                         ids=[f"{k}-{t}-{h}-{d}" for k, t, h, d in _scenarios()])
def test_kill_then_recover(request, sim, kind, table, how, delay):
    world = request.getfixturevalue(f"world_{kind}")
    db = world["db"]
    change_the_source(sim, next(world["edits"]))
    before = visible(db)
    state_before = stored_state(db, f"public.{table}")

    rc, err = killed_run(sim, world, table, how, delay)

    after = visible(db)
    # Nothing but the real table and the state table may ever appear.
    assert set(after) - set(before) <= {f"public.{table}", "_omniload._state"}, \
        f"stray tables left in the destination: {sorted(set(after) - set(before))}"
    if after == before:
        outcome = "old"
        assert rc != 0, "the run said it succeeded but changed nothing"
        if rc > 0:                # a child was killed: omniload itself reports it
            assert error_line(err).startswith("omniload: error: "), err
            assert "Traceback" not in err
    else:
        outcome = "new"           # the whole new table and its new state, never a mix
        assert_exact(sim, db, table)
        assert stored_state(db, f"public.{table}") != state_before
    world["outcomes"].append((how, outcome))
    world["tables"].add(table)
    if how in ("hook:before-load", "hook:before-publish", "hook:in-publish", "hook:before-commit"):
        assert outcome == "old"
    if how == "hook:after-commit":
        assert outcome == "new"

    r = ingest(sim, db, table, env_extra={"TMPDIR": str(world["tmp"])})
    assert r.returncode == 0, r.stderr
    assert_exact(sim, db, table)
    assert not [k for k in snapshot(db) if "_omniload_stage_" in k]
    # The killed run's private dir (catalog, state, CSV batches) is gone too.
    assert os.listdir(world["tmp"]) == []


@pytest.mark.parametrize("kind, at_least", [("duckdb", 4), ("postgres", 2)])
def test_some_random_kills_hit_mid_run(request, kind, at_least):
    """The seeded delays really interrupt runs (otherwise the above proves little)."""
    world = request.getfixturevalue(f"world_{kind}")
    random_kills = [o for how, o in world["outcomes"] if not how.startswith("hook:")]
    assert random_kills.count("old") >= at_least, world["outcomes"]
    assert ("hook:after-commit", "new") in world["outcomes"]
