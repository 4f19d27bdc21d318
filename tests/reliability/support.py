"""Helpers shared by the reliability tests (on top of tests/omniload/support)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.omniload.support import OMNILOAD, clean_env, dest_uri, source_uri

TABLES = ["workspaces", "projects", "sections", "tags", "tasks", "stories", "teams", "users"]


def tap_settings(**settings) -> dict:
    return {"OMNILOAD_TAP_SETTINGS": json.dumps(settings)}


def ingest_args(sim, db, table, *extra, dest_table=None):
    return [str(OMNILOAD), "ingest", "--source-uri", source_uri(sim), "--source-table", table,
            "--dest-uri", dest_uri(db), "--dest-table", dest_table or f"public.{table}",
            "--progress", "log", *extra]


def start(sim, db, table, *extra, env_extra=None, tmpdir=None, preexec_fn=None,
          dest_table=None) -> subprocess.Popen:
    """./omniload ingest in the background (source URI in the environment)."""
    env = clean_env(**(env_extra or {}))
    env["SOURCE_URI"] = source_uri(sim)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    args = ingest_args(sim, db, table, *extra, dest_table=dest_table)
    i = args.index("--source-uri")
    del args[i:i + 2]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=preexec_fn)


def children(pid: int) -> list[int]:
    """Direct children of pid."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if f"PPid:\t{pid}\n" in (d / "status").read_text():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def descendants(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        for c in children(todo.pop()):
            seen.append(c)
            todo.append(c)
    return seen


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def stopped(pid: int) -> bool:
    try:
        return "\nState:\tT" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def wait_for(predicate, timeout: float = 60, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {predicate}")


def omniload_python(proc: subprocess.Popen) -> int:
    """./omniload execs bash -> python in place: the Popen pid becomes the
    python process running omniload's console script once bootstrapping is done."""
    wait_for(lambda: "/envs/omniload/bin/omniload" in cmdline(proc.pid) or proc.poll() is not None)
    return proc.pid


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_clean_error(r_stderr: str, stdout: str, fragment: str):
    line = error_line(r_stderr)
    assert line.startswith("omniload: error: "), r_stderr
    assert fragment in line, r_stderr
    assert "Traceback" not in r_stderr + stdout
    assert "internal error" not in line, r_stderr
    assert [x for x in r_stderr.splitlines() if x.startswith("omniload: error:")] == [line]


def kill_tree(pid: int):
    for p in [pid, *descendants(pid)]:
        try:
            os.kill(p, 9)
        except OSError:
            pass
