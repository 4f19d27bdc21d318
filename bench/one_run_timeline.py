"""Where the time of one run of every table goes, revision against revision.

Clones the given revisions of this repository, then, round after round and
revision after revision (so the machine's noise falls on all alike), starts
a fresh simulator (this checkout's, same seed: the same workspace for every
run) and times one `./omniload ingest` of every table into a new DuckDB
file. The simulator's request log shows when each kind of request went out.

    python3 bench/one_run_timeline.py [--rounds 3] [--projects 20]
        [--tasks-per-project 75] [--latency-ms 150] [REV ...]   (default: HEAD)

Per run: the wall time, and, counted from omniload's start, when the first
request went out, when the tasks listings started (first, last), when the
stories requests started (first, last), how many stories went out before
the last tasks listing started, and the tail from the last request sent to
omniload's exit. Then the median wall per revision.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-timeline-token"
TABLES = "workspaces,projects,sections,tags,tasks,stories,teams,users"  # the eight ingestr has


def clone(rev: str, work: Path) -> Path:
    target = work / f"clone-{rev}"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", rev], check=True)
    return target


def start_simulator(args: argparse.Namespace) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "asana_simulator", "--port", "0", "--seed", "1",
         "--projects", str(args.projects), "--tasks-per-project", str(args.tasks_per_project),
         "--latency-ms", str(args.latency_ms), "--token", TOKEN],
        stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT / "asana-simulator")))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the simulator did not start")
    return proc, json.loads(line)


def one_run(checkout: Path, args: argparse.Namespace, work: Path) -> dict:
    sim, info = start_simulator(args)
    try:
        api_url = info["api_url"]
        db = work / f"run-{time.monotonic_ns()}.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNILOAD_")}
        env["SOURCE_URI"] = f"asana://{info['workspace_gid']}?access_token={TOKEN}&api_url={api_url}"
        env["OMNILOAD_TAP_SETTINGS"] = json.dumps({"requests_per_minute": 100000})
        started = time.time()
        run = subprocess.run(
            [str(checkout / "omniload"), "ingest", "--source-table", TABLES, "--incremental-strategy", "merge",
             "--dest-uri", f"duckdb:///{db}", "--dest-schema", "public", "--progress", "log"],
            env=env, capture_output=True, text=True)
        ended = time.time()
        if run.returncode != 0:
            raise SystemExit(f"{checkout.name}: the run failed:\n{run.stderr[-2000:]}")
        control = info["control_url"] + "/requests"
        with urllib.request.urlopen(control) as answer:
            requests = json.load(answer)["requests"]
    finally:
        sim.terminate()
        sim.wait()
    tasks = sorted(r["started_at"] - started for r in requests if r["api_path"] == "/tasks")
    stories = sorted(r["started_at"] - started for r in requests if r["api_path"].endswith("/stories"))
    return {
        "wall": ended - started,
        "first request": min(r["started_at"] for r in requests) - started,
        "tasks": (tasks[0], tasks[-1]),
        "stories": (stories[0], stories[-1]),
        "stories early": sum(1 for s in stories if s < tasks[-1]),
        "tail": ended - max(r["started_at"] for r in requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="*", default=["HEAD"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks-per-project", type=int, default=75)
    parser.add_argument("--latency-ms", type=float, default=150)
    args = parser.parse_args()
    walls: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="one-run-timeline-") as tmp:
        work = Path(tmp)
        checkouts = {rev: clone(rev, work) for rev in args.revs}
        for checkout in checkouts.values():  # builds its environments, untimed
            one_run(checkout, args, work)
        for round_no in range(args.rounds):
            for rev, checkout in checkouts.items():
                r = one_run(checkout, args, work)
                walls.setdefault(rev, []).append(r["wall"])
                print(f"round {round_no + 1}  {rev:<10} wall {r['wall']:5.2f} s  first request "
                      f"{r['first request']:4.2f}  tasks {r['tasks'][0]:4.2f}-{r['tasks'][1]:4.2f}  "
                      f"stories {r['stories'][0]:5.2f}-{r['stories'][1]:5.2f} "
                      f"({r['stories early']} before the last tasks listing)  tail {r['tail']:4.2f}",
                      flush=True)
        for checkout in checkouts.values():
            shutil.rmtree(checkout, ignore_errors=True)
    print(f"\nmedian wall of one run of {TABLES}:")
    for rev, runs in walls.items():
        print(f"  {rev:<10} {statistics.median(runs):5.2f} s  ({len(runs)} runs)")


if __name__ == "__main__":
    main()
