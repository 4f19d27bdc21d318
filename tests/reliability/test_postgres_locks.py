"""Two runs on the same PostgreSQL table at once take turns (advisory locks
on omniload's own connection); runs on other tables of the database go side
by side; a run that cannot wait fails in one line, having changed nothing;
a killed run's locks go with its connection and its stage with the next run
on that table.  Real ./omniload, simulator and server."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.dest_reader import query, snapshot, stages, stored_state
from tests.expected import expected_gids
from tests.omniload.support import ingest
from tests.postgres_server import Database
from tests.reliability.support import assert_clean_error, omniload_python, start, stopped, wait_for

pytestmark = pytest.mark.slow
SIM_SPEC = dict(projects=3, tasks_per_project=6)


@pytest.fixture(scope="module")
def loaded(sim, pg_server, omniload_ready) -> str:
    """A database that holds users and tasks (with a bookmark), loaded once
    for the module: each test gets a copy of it."""
    database = Database(pg_server, pg_server.create_database())
    for table in ("users", "tasks"):
        r = ingest(sim, database, table)
        assert r.returncode == 0, r.stderr
    return database.name


@pytest.fixture
def db(loaded, pg_server) -> Database:
    """A copy of `loaded` of the test's own (runs since only add what changed)."""
    return Database(pg_server, pg_server.create_database(template=loaded))


def _finish(proc, timeout=180):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _paused(sim, db, table, point="before-load"):
    proc = start(sim, db, table, env_extra={"OMNILOAD_TEST_HOOK": f"{point}:pause"})
    pid = omniload_python(proc)
    wait_for(lambda: stopped(pid) or proc.poll() is not None, timeout=60)
    assert proc.poll() is None
    return proc, pid


@pytest.mark.parametrize("point", ["locked", "before-publish", "in-publish"])
def test_a_second_run_on_the_table_waits_for_the_first(sim, db, point):
    edited = sorted(expected_gids(sim, "tasks"))[:2]
    for g in edited:
        sim.store.edit_task(g, name=f"edited {point}")
    first, pid = _paused(sim, db, "tasks", point)
    second = start(sim, db, "tasks")
    try:
        time.sleep(2.0)
        assert second.poll() is None                 # held back, neither failing nor loading
    finally:
        os.kill(pid, signal.SIGCONT)
    (rc_a, _, err_a), (rc_b, out_b, err_b) = _finish(first), _finish(second)
    assert (rc_a, rc_b) == (0, 0), err_a + err_b
    assert f"omniload: waiting for the run with PID {pid} to finish with public.tasks in postgresql://" in err_b
    assert {g for (g,) in query(db, "SELECT gid FROM public.tasks")} == expected_gids(sim, "tasks")
    for g in edited:
        assert query(db, "SELECT name FROM public.tasks WHERE gid = ?", g) == [(f"edited {point}",)]
    # The run that went second published last: its bookmark is the one stored.
    bookmark = next(x.split(":", 1)[1].strip() for x in out_b.splitlines() if x.startswith("bookmark:"))
    assert stored_state(db, "public.tasks")[0]["bookmarks"]["tasks"]["replication_key_value"] == bookmark
    assert not stages(db)


def test_runs_on_other_tables_of_the_database_do_not_wait(sim, db):
    first, pid = _paused(sim, db, "users", "before-publish")
    try:
        r = ingest(sim, db, "tags", "--lock-timeout", "0")
        assert r.returncode == 0, r.stderr
        assert "waiting" not in r.stderr
        r = ingest(sim, db, "tasks", "--lock-timeout", "0")
        assert r.returncode == 0, r.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _finish(first)[0] == 0
    assert not stages(db)


@pytest.mark.parametrize("timeout", ["0", "1.5"])
def test_a_run_that_cannot_wait_fails_in_one_line_and_changes_nothing(sim, db, timeout):
    first, pid = _paused(sim, db, "users")
    try:
        before = snapshot(db)
        requests = sim.request_count()
        started = time.monotonic()
        r = ingest(sim, db, "users", "--lock-timeout", timeout)
        waited = time.monotonic() - started
        assert r.returncode == 1
        assert_clean_error(r.stderr, r.stdout, f"the omniload run with PID {pid}")
        assert "public.users in postgresql://" in r.stderr and "nothing was changed" in r.stderr
        assert waited >= float(timeout)
        assert sim.request_count() == requests and snapshot(db) == before
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _finish(first)[0] == 0


def test_a_waiting_run_whose_connection_is_ended_fails_in_one_line(sim, db, pg_server):
    first, pid = _paused(sim, db, "users")
    try:
        second = start(sim, db, "users")
        waiter = omniload_python(second)
        (backend,) = wait_for(lambda: pg_server.admin(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", f"omniload (pid {waiter})",
            database=db.name))
        pg_server.admin("SELECT pg_terminate_backend(%s)", backend[0], database=db.name)
        rc, out, err = _finish(second)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert rc == 1
    assert_clean_error(err, out, "the connection to PostgreSQL broke while taking the run's lock on public.users "
                                 "in postgresql://")
    assert "terminating connection due to administrator command" in err and "nothing was changed" in err
    assert _finish(first)[0] == 0


def test_a_killed_run_leaves_no_lock_and_its_stage_goes_with_the_next_run_on_that_table(sim, db):
    killed = start(sim, db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-publish:kill"})
    assert _finish(killed)[0] == -signal.SIGKILL
    (left,) = stages(db)
    assert left.startswith("public._omniload_stage_users_")
    # A run on another table leaves it alone (it is not that run's to judge)...
    assert ingest(sim, db, "tags", "--lock-timeout", "0").returncode == 0
    assert stages(db) == [left]
    # ...the next run on users takes the lock at once and drops it.
    r = ingest(sim, db, "users", "--lock-timeout", "0")
    assert r.returncode == 0, r.stderr
    assert not stages(db)
    assert {g for (g,) in query(db, "SELECT gid FROM public.users")} == expected_gids(sim, "users")


@pytest.mark.parametrize("offset", [0.0, 0.3])
def test_two_runs_started_together_take_turns(sim, db, offset):
    a = start(sim, db, "users", dest_table="public.users")
    time.sleep(offset)
    b = start(sim, db, "users", dest_table="public.users")
    (rc_a, _, err_a), (rc_b, _, err_b) = _finish(a), _finish(b)
    assert (rc_a, rc_b) == (0, 0), err_a + err_b
    assert {g for (g,) in query(db, "SELECT gid FROM public.users")} == expected_gids(sim, "users")
    assert not stages(db)
