"""The token never leaks: not in the Singer output or state, not in any line
omniload prints (debug relays included), not in the database, not in a temp
file left behind -- after success, failure or a kill -- and the configs that
hold it are never on disk (the run's other temp files are 0600 in a 0700
directory).  Plain http outside loopback is
refused.  (ps/environ and the stored-rows checks are in tests/omniload.)"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from tests.omniload.support import SECRET_PART, TOKEN, clean_env, ingest
from tests.reliability.support import (
    assert_clean_error,
    ingest_args,
    omniload_python,
    start,
    stopped,
    tap_settings,
    wait_for,
)
from tests.tap.support import base_config, run_tap

pytestmark = pytest.mark.slow


def _files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    for p in Path(root).rglob("*"):
        if p.is_file():
            try:
                if needle in p.read_bytes():
                    hits.append(str(p))
            except OSError:
                pass
    return hits


def test_singer_output_and_state_carry_no_token(sim, tmp_path):
    cfg = base_config(sim, access_token=TOKEN, page_size=3)
    run = run_tap(tmp_path, cfg, streams=["workspaces", "tasks", "stories"])
    assert run.returncode == 0, run.stderr[-1500:]
    out = json.dumps(run.messages)
    assert SECRET_PART not in out and SECRET_PART not in run.stderr
    assert SECRET_PART not in json.dumps(run.final_state)
    bad = run_tap(tmp_path, dict(cfg, access_token=TOKEN + "x"), streams=["tasks"])   # 401
    assert bad.returncode == 1 and SECRET_PART not in bad.stderr + json.dumps(bad.messages)


@pytest.mark.parametrize("fail", [False, True])
def test_nothing_printed_or_stored_or_left_holds_the_token(sim, tmp_path, omniload_ready, fail):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "w.db"
    if fail:
        assert ingest(sim, db, "tasks", env_extra={"TMPDIR": str(tmp)}).returncode == 0
        sim.faults.fail_from(3, status=500)
    env = clean_env(TMPDIR=tmp, OMNILOAD_DEBUG="1", **tap_settings(max_tries=1, page_size=2))
    try:
        r = subprocess.run(ingest_args(sim, db, "tasks", "--full-refresh"), env=env,
                           capture_output=True, text=True, timeout=120)
    finally:
        sim.faults.clear()
    assert (r.returncode != 0) == fail, r.stderr[-1500:]
    assert "[tap]" in r.stderr                       # the children's logs were relayed
    assert SECRET_PART not in r.stdout + r.stderr
    assert os.listdir(tmp) == []                     # configs, catalog, CSV batches: gone
    assert not _files_containing(tmp_path, SECRET_PART.encode())   # db, wal, anything


def _memory_files(pid: int) -> dict[str, bytes]:
    """The anonymous in-memory files (memfds) process pid holds open: name -> contents."""
    held = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            if target.startswith("/memfd:"):
                held[target[len("/memfd:"):].removesuffix(" (deleted)")] = fd.read_bytes()
        except OSError:
            pass
    return held


def test_configs_with_secrets_are_never_on_disk(sim, tmp_path, omniload_ready):
    """Paused just before the children start: the tap's config (the token)
    and the loader's are anonymous in-memory files omniload holds, not files;
    the private dir (0700, its files 0600) holds nothing secret, so a
    SIGKILL there leaves no token behind; the next run removes the dir."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "w.db"
    proc = start(sim, db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-load:pause"}, tmpdir=tmp)
    pid = omniload_python(proc)
    try:
        wait_for(lambda: stopped(pid) or proc.poll() is not None)
        (private,) = list(tmp.iterdir())
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        files = [p for p in private.rglob("*") if p.is_file()]
        assert "catalog.json" in {p.name for p in files}
        assert not {"tap-config.json", "target-config.json"} & {p.name for p in files}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        held = _memory_files(pid)
        assert SECRET_PART.encode() in held["tap-config.json"]
        assert json.loads(held["target-config.json"])["path"] == str(db)
        os.kill(pid, signal.SIGKILL)                 # no cleanup runs
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert list(tmp.iterdir()) and not _files_containing(tmp, SECRET_PART.encode())
    r = ingest(sim, db, "users", env_extra={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp) == []


def test_plain_http_outside_loopback_is_refused(tmp_path, omniload_ready):
    uri = f"asana://1200000000001?access_token={TOKEN}&api_url=http://203.0.113.9/api/1.0"
    r = subprocess.run(["./omniload", "ingest", "--source-table", "users",
                        "--dest-uri", f"duckdb:///{tmp_path}/w.db"],
                       cwd=Path(__file__).resolve().parents[2],
                       env=clean_env(SOURCE_URI=uri), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert_clean_error(r.stderr, r.stdout, "clear text")
    assert "OMNILOAD_TAP_SETTINGS" in r.stderr and SECRET_PART not in r.stderr
    assert not (tmp_path / "w.db").exists()
