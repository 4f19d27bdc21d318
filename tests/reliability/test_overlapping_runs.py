"""Two runs on one destination at once (cron overlaps, a manual run beside
the scheduled one): they take turns.  After every pair, each table, its
bookmark and the file's contents are what one run, then the other, gives;
nothing is left behind; and a run that cannot wait fails in one line having
changed nothing."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from tests.duckdb_reader import query, stored_state, table_rows
from tests.expected import expected_gids
from tests.omniload.support import ingest
from tests.reliability.support import assert_clean_error, omniload_python, start, stopped, wait_for

pytestmark = pytest.mark.slow
SIM_SPEC = dict(projects=4, tasks_per_project=12)


@pytest.fixture(scope="module")
def base(sim, tmp_path_factory, omniload_ready):
    """A destination that already holds users and tasks (with a bookmark)."""
    db = tmp_path_factory.mktemp("base") / "w.db"
    for table in ("users", "tasks"):
        r = ingest(sim, db, table)
        assert r.returncode == 0, r.stderr
    return db


def _edit_some_tasks(sim, tag: str) -> list[str]:
    """Edits the next merge run must bring (and that a lost publish would
    lose for good: the bookmark would move past them)."""
    gids = sorted(expected_gids(sim, "tasks"))[:3]
    for g in gids:
        sim.store.edit_task(g, name=f"edited {tag} {g}")
    return gids


def _finish(proc, timeout=180):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _bookmark(stdout: str) -> str | None:
    for line in stdout.splitlines():
        if line.startswith("bookmark:"):
            return line.split(":", 1)[1].strip()
    return None


def _assert_exact(sim, db, tables, edited=(), tag=""):
    """Each table is what a lone run gives now, its bookmark stored, nothing
    left over: no stage table, no lock file, no file that is not DuckDB's."""
    for table in tables:
        got = {r[0] for r in query(db, f'SELECT gid FROM public."{table}"')}
        assert got == expected_gids(sim, table), table
        assert stored_state(db, f"public.{table}") is not None, table
    for g in edited:
        assert query(db, "SELECT name FROM public.tasks WHERE gid = ?", g) == [(f"edited {tag} {g}",)]
    stages = query(db, "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '_omniload_stage%'")
    assert stages == []
    assert sorted(os.listdir(db.parent)) in (["w.db"], ["w.db", "w.db.wal"])


def _pair(sim, db, first, second, offset_s, extra=(), env_extra=None):
    a = start(sim, db, first, *extra, env_extra=env_extra)
    time.sleep(offset_s)
    b = start(sim, db, second, *extra, env_extra=env_extra)
    return _finish(a), _finish(b)


# The second run starts at once, while the first is still starting up, and
# while it is well into its load.
OFFSETS = [0.0, 0.1, 0.7]


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("scenario", ["same-table-replace", "same-table-merge", "other-tables",
                                      "new-file"])
def test_two_runs_at_once_take_turns(sim, base, tmp_path, scenario, offset):
    db = tmp_path / "w.db"
    if scenario != "new-file":
        shutil.copyfile(base, db)
    first, second = {"same-table-replace": ("users", "users"),
                     "same-table-merge": ("tasks", "tasks"),
                     "other-tables": ("tasks", "users"),
                     "new-file": ("users", "tags")}[scenario]
    tag = f"{scenario}-{offset}"
    edited = _edit_some_tasks(sim, tag) if "tasks" in (first, second) else []
    (rc_a, out_a, err_a), (rc_b, out_b, err_b) = _pair(sim, db, first, second, offset)
    assert (rc_a, rc_b) == (0, 0), err_a + err_b
    for out in (out_a, out_b):
        loaded = summary_number(out, "rows loaded:")
        in_table = summary_number(out, "rows in table:")
        assert in_table >= loaded > 0 or first == second == "tasks"
    _assert_exact(sim, db, {first, second}, edited, tag)
    if first == second == "tasks":
        # The run that went second published last: its bookmark is the one stored.
        waited = out_a if "waiting for the run with PID" in err_a else out_b
        state = stored_state(db, "public.tasks")[0]
        assert state["bookmarks"]["tasks"]["replication_key_value"] == _bookmark(waited)


@pytest.mark.parametrize("point", ["locked", "before-load", "before-publish", "in-publish"])
def test_a_second_run_waits_for_the_first_wherever_it_is(sim, base, tmp_path, point):
    """The first run is stopped at each phase; the second one waits for it,
    naming its PID, and goes on once it is done."""
    db = tmp_path / "w.db"
    shutil.copyfile(base, db)
    edited = _edit_some_tasks(sim, point)
    a = start(sim, db, "tasks", env_extra={"OMNILOAD_TEST_HOOK": f"{point}:pause"})
    pid = omniload_python(a)
    wait_for(lambda: stopped(pid), timeout=60)
    b = start(sim, db, "tasks")
    wait_for(lambda: os.path.exists(str(db) + ".omniload.lock") and b.poll() is None, timeout=30)
    time.sleep(1.5)               # b is held back, not failing, not loading
    assert b.poll() is None
    os.kill(pid, signal.SIGCONT)
    rc_a, _, err_a = _finish(a)
    rc_b, _, err_b = _finish(b)
    assert (rc_a, rc_b) == (0, 0), err_a + err_b
    assert f"waiting for the run with PID {pid} to finish" in err_b
    _assert_exact(sim, db, {"tasks"}, edited, point)


def test_a_killed_run_does_not_block_the_next(sim, base, tmp_path):
    """SIGKILL skips all clean-up: the kernel drops the lock, the next run
    takes it at once and removes the killed run's stage."""
    db = tmp_path / "w.db"
    shutil.copyfile(base, db)
    a = start(sim, db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-publish:kill"})
    assert _finish(a)[0] == -signal.SIGKILL
    assert os.path.exists(str(db) + ".omniload.lock")
    started = time.monotonic()
    r = ingest(sim, db, "users", "--lock-timeout", "0")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 30 and "waiting" not in r.stderr
    _assert_exact(sim, db, {"users", "tasks"})


@pytest.mark.parametrize("how", [("--lock-timeout", "0"), ("--lock-timeout", "1.5")])
def test_a_run_that_cannot_wait_fails_in_one_line_and_changes_nothing(sim, base, tmp_path, how):
    db = tmp_path / "w.db"
    shutil.copyfile(base, db)
    before = table_rows(db, "public.users"), stored_state(db, "public.users")
    a = start(sim, db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-load:pause"})
    pid = omniload_python(a)
    wait_for(lambda: stopped(pid), timeout=60)
    requests_before = sim.request_count()
    started = time.monotonic()
    r = ingest(sim, db, "users", *how)
    waited = time.monotonic() - started
    assert r.returncode == 1
    assert_clean_error(r.stderr, r.stdout, f"the omniload run with PID {pid}")
    assert "nothing was changed" in r.stderr
    assert waited >= float(how[1])
    assert sim.request_count() == requests_before          # no network call either
    assert (table_rows(db, "public.users"), stored_state(db, "public.users")) == before
    os.kill(pid, signal.SIGCONT)
    assert _finish(a)[0] == 0


def test_lock_timeout_from_the_environment_and_bad_values(sim, base, tmp_path):
    db = tmp_path / "w.db"
    for bad in ("-1", "soon", "inf"):
        r = ingest(sim, db, "users", "--lock-timeout", bad)
        assert r.returncode == 2
        assert_clean_error(r.stderr, r.stdout, "invalid --lock-timeout")
    assert not db.exists()
    shutil.copyfile(base, db)
    a = start(sim, db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-load:pause"})
    pid = omniload_python(a)
    wait_for(lambda: stopped(pid), timeout=60)
    r = ingest(sim, db, "users", env_extra={"OMNILOAD_LOCK_TIMEOUT": "0"})
    assert r.returncode == 1 and "is using" in r.stderr
    os.kill(pid, signal.SIGCONT)
    assert _finish(a)[0] == 0


def summary_number(out: str, label: str) -> int:
    line = next(x for x in out.splitlines() if x.startswith(label))
    return int(line.split()[-1].replace(",", ""))
