"""A disk that fills up and a destination locked by another process: one
clear error line, exit 1, the destination exactly as it was."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.duckdb_reader import snapshot
from tests.expected import expected_gids
from tests.omniload.support import clean_env, ingest
from tests.reliability.support import (
    assert_clean_error,
    ingest_args,
    omniload_python,
    start,
    stopped,
    wait_for,
)

pytestmark = pytest.mark.slow
SIM_SPEC = dict(projects=4, tasks_per_project=10)


@pytest.fixture(scope="module")
def template(sim, tmp_path_factory, omniload_ready):
    """A destination with stories loaded, and a source with much more to bring."""
    db = tmp_path_factory.mktemp("template") / "w.db"
    assert ingest(sim, db, "stories").returncode == 0
    for g in sorted(expected_gids(sim, "tasks"))[:10]:
        sim.store.add_story(g, "long story " * 500)
    return db


@pytest.fixture
def loaded(template, tmp_path):
    db = tmp_path / "w.db"
    shutil.copyfile(template, db)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return db, tmp, snapshot(db)


def _fsize_limit(n):
    def apply():
        # Python ignores SIGXFSZ itself; the shell in between must not die of it.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return apply


@pytest.mark.parametrize("limit, fragment", [
    (20_000, "a local file operation failed"),        # omniload's own temp files
    (100_000, "loading into DuckDB failed"),          # the loader's CSV batch / the database
])
def test_disk_full_during_the_run(sim, loaded, limit, fragment):
    """RLIMIT_FSIZE on the whole process tree: writes past the limit fail
    with EFBIG, as they would with ENOSPC on a full disk."""
    db, tmp, before = loaded
    r = subprocess.run(ingest_args(sim, db, "stories"), env=clean_env(TMPDIR=tmp),
                       capture_output=True, text=True, timeout=120, preexec_fn=_fsize_limit(limit))
    assert r.returncode == 1, r.stderr
    assert_clean_error(r.stderr, r.stdout, fragment)
    assert "the disk is full" in r.stderr
    assert snapshot(db) == before
    assert os.listdir(tmp) == []


def test_disk_full_at_publish(sim, loaded):
    """The load went fine; the disk fills just before the publish
    transaction: it rolls back, the old table and state stay."""
    db, tmp, before = loaded
    proc = start(sim, db, "stories", env_extra={"OMNILOAD_TEST_HOOK": "before-publish:pause"},
                 tmpdir=tmp)
    pid = omniload_python(proc)
    wait_for(lambda: stopped(pid) or proc.poll() is not None)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, 0))
    os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert_clean_error(err, out, "publishing public.stories failed, nothing was changed")
    assert "the disk is full" in err
    visible = {k: v for k, v in snapshot(db).items() if "_omniload_stage_" not in k}
    assert visible == before
    assert os.listdir(tmp) == []
    r = ingest(sim, db, "stories")          # room again: the next run is complete
    assert r.returncode == 0, r.stderr
    assert snapshot(db) != before and not [k for k in snapshot(db) if "_omniload_stage_" in k]


def test_disk_full_for_real_on_a_small_tmpfs(sim, tmp_path, omniload_ready):
    """A real ENOSPC, where mounting a tmpfs is allowed (root); skipped elsewhere."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = mnt / "w.db"
        assert ingest(sim, db, "stories").returncode == 0
        before = snapshot(db)
        filler = mnt / "filler"
        with open(filler, "wb") as f:          # leave ~200 KB free
            free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
            f.write(b"\0" * max(0, free - 200_000))
        r = subprocess.run(ingest_args(sim, db, "stories"), env=clean_env(TMPDIR=mnt),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stderr
        assert_clean_error(r.stderr, r.stdout, "No space left on device")
        assert snapshot(db) == before
        assert sorted(os.listdir(mnt)) in (["filler", "w.db"], ["filler", "w.db", "w.db.wal"])
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.read()          # until the test closes our stdin
    con.close()
""")


def _hold_lock(db):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


@pytest.mark.parametrize("point, fragment", [
    # Locked after omniload's own check, before the loader opens it.
    ("before-load", "was locked by another process while loading"),
    # Locked after the load, when omniload opens the file to publish.
    ("before-publish", "is locked by another process (PID"),
])
def test_destination_locked_by_another_process_mid_run(sim, loaded, point, fragment):
    db, tmp, before = loaded
    proc = start(sim, db, "stories", env_extra={"OMNILOAD_TEST_HOOK": f"{point}:pause"}, tmpdir=tmp)
    pid = omniload_python(proc)
    wait_for(lambda: stopped(pid) or proc.poll() is not None)
    holder = _hold_lock(db)
    try:
        os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert proc.returncode == 1, err
    assert_clean_error(err, out, fragment)
    visible = {k: v for k, v in snapshot(db).items() if "_omniload_stage_" not in k}
    assert visible == before
    assert os.listdir(tmp) == []


@pytest.mark.parametrize("point", ["in-publish", "before-commit"])
def test_ctrl_c_inside_the_publish_transaction_rolls_back(sim, loaded, point):
    """Ctrl-C (SIGINT) lands while the table is already swapped inside the
    transaction: rolled back, exit 130, old table and state, temp dir gone."""
    db, tmp, before = loaded
    proc = start(sim, db, "stories", env_extra={"OMNILOAD_TEST_HOOK": f"{point}:pause"}, tmpdir=tmp)
    pid = omniload_python(proc)
    wait_for(lambda: stopped(pid) or proc.poll() is not None)
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "omniload: interrupted; the destination was left as it was"
    assert snapshot(db) == before
    assert os.listdir(tmp) == []
