#!/usr/bin/env python3
r"""Side-by-side benchmark: omniload vs ingestr 0.14.155 on a simulated Asana.

Stdlib only; run it with any python3 >= 3.9 from anywhere:

    python3 bench/bench.py --projects 30 --tasks-per-project 30 --latency-ms 150 \
        --tables tasks,stories --change-fraction 0.01

For every table and tool it starts a fresh simulator (same seed, so both tools
see byte-identical data), runs a full sync, changes a fraction of the tasks
through the simulator's control interface (one edit + one new comment each),
runs again (the recurring sync) and measures, per run:

  wall      end-to-end seconds of the CLI process (start-up included)
  req       API requests the simulator received (429-rejected ones included:
            Asana, and the simulator, count them against the quota)
  429       of which rejected with 429
  rows      rows in the destination table (distinct gids in brackets when
            they differ: ingestr duplicates multi-homed tasks and stories)
  rec/s     rows / wall
  peak MB   peak RSS of the whole process tree (sum over processes, /proc
            polled every 0.1 s)
  cpu s     CPU seconds (user + system) of the tool's process tree, then of
            the simulator while serving it: the two share this machine's
            cores, which Asana's servers would not
  cpu floor (tool + simulator CPU) / cores: the least wall time this machine
            allows whatever the latency; "wall/floor" divides by the larger
            of the two floors
  floor     max(req x latency / concurrency, 60 s x floor((req-1) / quota)): the time latency
            and quota allow for that many requests at that tool's nominal
            concurrency (ours: tap default 25; ingestr: 1 for tasks, which it
            lists one project after another, 5 otherwise)

Strategies: ours runs each table with its default, except stories, which
runs with --incremental-strategy merge (incremental stories). ingestr runs
tasks and stories with --incremental-strategy merge on both runs (otherwise
its replace default resets its cursor and a rerun is a full sync again);
other tables with its default (replace).

Subtasks (ours only: ingestr has none): the simulator's subtask share is
set with --subtask-fraction, --subtask-nesting and --subtask-parent-share
(asana-simulator's WorkspaceSpec). The rerun edits --change-fraction of the
subtasks (every level) instead of the tasks and reports how many of the
edits reached the table ("reached"); a third run, "walk", is the periodic
full walk (made due with subtasks_reconcile_hours 0.0001 for that run). --events-bubble-all-levels
makes the simulator's project events carry every level.

Other modes:
  --throughput   tasks only, no latency and no quota, at several workspace
                 sizes (--sizes); records/s and peak memory (flatness check).
                 With --tools destinations: ours into a DuckDB file and into
                 PostgreSQL, side by side on the same simulator (the server is
                 a PostgreSQL 15 that bench.py starts like the tests do,
                 tests/postgres_server.py: fsync off, so figures are the load's)
  --startup      fixed cost of one CLI run: the `workspaces` table (1-2
                 requests) on a no-latency simulator, repeated
Environments: ours uses $OMNILOAD_HOME (default ./.omniload; bench.py runs
`./omniload setup` when it is missing). Set OMNILOAD_HOME to a private
directory when others may rebuild ./.omniload while a long run is going.
ingestr uses bench/.venv-ingestr (bench.py runs bench/ingestr_env.sh when it
is missing).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SIM_PATH = ROOT / "asana-simulator"
OMNILOAD = ROOT / "omniload"
OMNILOAD_HOME = Path(os.environ.get("OMNILOAD_HOME") or ROOT / ".omniload")
OUR_PY = OMNILOAD_HOME / "envs" / "omniload" / "bin" / "python"
INGESTR_VENV = BENCH / ".venv-ingestr"
INGESTR_BIN = INGESTR_VENV / "bin" / "ingestr"
INGESTR_PY = INGESTR_VENV / "bin" / "python"
SHIM = BENCH / "ingestr_shim"
TOKEN = "bench-token"
OUR_CONCURRENCY = 25  # tap-asana's default `concurrency`
ALL_TABLES = ("workspaces", "projects", "sections", "tags", "tasks", "subtasks", "stories", "teams", "users")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- simulator
class Sim:
    def __init__(self, args, *, projects, tpp, latency_ms, quota, logdir: Path, name: str):
        cmd = [sys.executable, "-m", "asana_simulator", "--port", "0", "--seed", str(args.seed),
               "--projects", str(projects), "--tasks-per-project", str(tpp),
               "--latency-ms", str(latency_ms), "--token", TOKEN,
               "--subtask-fraction", str(args.subtask_fraction), "--subtask-nesting", str(args.subtask_nesting),
               "--subtask-parent-share", str(args.subtask_parent_share)]
        if args.events_bubble_all_levels:
            cmd.append("--events-bubble-all-levels")
        if quota:
            cmd += ["--quota-per-minute", str(quota)]
        env = dict(os.environ, PYTHONPATH=str(SIM_PATH))
        self.errlog = open(logdir / f"sim-{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errlog, env=env,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"simulator failed to start; see {self.errlog.name}")
        self.info = json.loads(line)
        self.api_url = self.info["api_url"]
        self.control = self.info["control_url"]
        self.ws = self.info["workspace_gid"]
        self.latency_ms = latency_ms
        self.quota = quota

    def _call(self, method, path, body=None, query=""):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path + query, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def stats(self):
        return self._call("GET", "/requests/stats")

    def cpu_seconds(self) -> float:
        """CPU (user + system) the simulator has used so far (Linux /proc)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_log(self):
        self._call("POST", "/requests/reset")

    def reset_quota(self):
        # a fresh minute window for the next run (the previous run's requests
        # must not slow the next one down)
        self._call("POST", "/quota", {"reset": True})

    def task_gids(self):
        return self._call("GET", "/gids", query=f"?resource=tasks&workspace_gid={self.ws}")["gids"]

    def mutate(self, op, **args):
        return self._call("POST", "/mutate", {"op": op, "args": args})

    def gids(self, resource, **filters):
        query = "&".join(f"{k}={v}" for k, v in {"resource": resource, "workspace_gid": self.ws,
                                                  **filters}.items())
        return self._call("GET", "/gids", query=f"?{query}")["gids"]

    def record(self, resource, gid):
        return self._call("GET", "/record", query=f"?resource={resource}&gid={gid}")["record"]

    def truth(self, table: str) -> set[str]:
        """What the table should hold now: tasks in a project, the live
        stories of live tasks (a lower bound of stale stories: the stories of
        a task that left every project still count as wanted)."""
        if table == "tasks":
            return {g for p in self.gids("projects") for g in self.gids("tasks", project_gid=p)}
        if table == "subtasks":
            return set(self.subtask_gids())
        return set(self.gids(table))

    def subtask_gids(self) -> list[str]:
        return self._call("GET", "/subtask_gids", query=f"?workspace_gid={self.ws}")["gids"]

    def stop(self):
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - whatever went wrong, the simulator must go
            self.proc.kill()
        self.errlog.close()


def change_tasks(sim: Sim, fraction: float, seed: int) -> int:
    """Edit `fraction` of the tasks (a deterministic sample) and add a comment to each."""
    gids = sorted(sim.task_gids())
    k = max(1, round(len(gids) * fraction)) if fraction > 0 else 0
    chosen = random.Random(seed).sample(gids, k)
    for i, gid in enumerate(chosen):
        sim.mutate("edit_task", gid=gid, name=f"bench edit {i}")
        sim.mutate("add_story", task_gid=gid, text=f"bench comment {i}")
    return k


def change_subtasks(sim: Sim, fraction: float, seed: int) -> int:
    """Edit `fraction` of the subtasks, at every level (a deterministic sample)."""
    gids = sorted(sim.subtask_gids())
    chosen = random.Random(seed).sample(gids, max(1, round(len(gids) * fraction)))
    for i, gid in enumerate(chosen):
        sim.mutate("edit_task", gid=gid, name=f"bench subtask edit {i}")
    return len(chosen)


def restructure_subtasks(sim: Sim, n: int, seed: int) -> int:
    """What else happens to subtasks in an hour: n new ones under project
    tasks and n under subtasks (a level deeper), n deleted, n moved under
    another project task."""
    rng = random.Random(seed + 2)
    subtasks = sorted(sim.subtask_gids())
    in_projects = sorted({g for p in sim.gids("projects") for g in sim.gids("tasks", project_gid=p)})
    chosen = rng.sample(subtasks, 3 * n)
    for i in range(n):
        sim.mutate("add_subtask", parent_gid=rng.choice(in_projects), name=f"bench new subtask {i}")
        sim.mutate("add_subtask", parent_gid=chosen[i], name=f"bench new deep subtask {i}")
    for gid in chosen[n:2 * n]:
        sim.mutate("delete_task", gid=gid)
    for gid in chosen[2 * n:]:
        if gid in sim.subtask_gids():        # not under one just deleted
            sim.mutate("set_parent", gid=gid, parent_gid=rng.choice(in_projects))
    return 4 * n


def reached(py: Path, db: Path) -> int:
    """How many of change_subtasks' edits public.subtasks shows."""
    code = ("import duckdb,sys\n"
            "c=duckdb.connect(sys.argv[1],read_only=True)\n"
            "print(c.execute(\"select count(*) from public.subtasks where name like 'bench subtask edit %'\")"
            ".fetchone()[0])\n")
    out = subprocess.run([str(py), "-c", code, str(db)], capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def remove_things(sim: Sim, n: int, seed: int) -> int:
    """What hourly Asana activity also does: delete n tasks, take n tasks out of
    all their projects, delete n comments, rename one project."""
    rng = random.Random(seed + 1)
    projects = sim.gids("projects")
    in_projects = sorted({g for p in projects for g in sim.gids("tasks", project_gid=p)})
    chosen = rng.sample(in_projects, 3 * n)
    for gid in chosen[:n]:
        sim.mutate("delete_task", gid=gid)
    for gid in chosen[n:2 * n]:
        for project in sim.record("tasks", gid)["projects"]:
            sim.mutate("remove_task_from_project", gid=gid, project_gid=project["gid"])
    deleted = 0
    for gid in chosen[2 * n:]:
        stories = sim.gids("stories", task_gid=gid)
        if stories:
            sim.mutate("delete_story", gid=rng.choice(stories))
            deleted += 1
    sim.mutate("rename", resource="projects", gid=rng.choice(projects), name="Renamed by the bench")
    return 2 * n + deleted


def stale_rows(sim: Sim, py: Path, db: Path, table: str, *, missing: bool = False) -> int | None:
    """Rows of public.<table> Asana no longer has (see Sim.truth); with
    missing, the rows it has and the table lacks."""
    if table not in ("tasks", "stories", "subtasks"):
        return None
    code = ("import duckdb,sys,json\n"
            "c=duckdb.connect(sys.argv[1],read_only=True)\n"
            f"print(json.dumps([g for (g,) in c.execute('select distinct gid from public.{table}').fetchall()]))\n")
    out = subprocess.run([str(py), "-c", code, str(db)], capture_output=True, text=True)
    try:
        have = set(json.loads(out.stdout.strip().splitlines()[-1]))
    except Exception:  # noqa: BLE001 - no table: nothing to report
        return None
    return len(sim.truth(table) - have) if missing else len(have - sim.truth(table))


# --------------------------------------------------------------------------- processes
def _tree_rss(root: int) -> int:
    """Sum of RSS (bytes) of `root` and all its descendants (by parent pid:
    omniload puts the tap and the target in sessions of their own)."""
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
            # fields after the ")" of comm: state ppid pgrp session ...
            rest = stat[stat.rindex(b")") + 2:].split()
            parent[int(d)] = int(rest[1])
            rss[int(d)] = int(rest[21]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    total = 0
    for pid in rss:
        p, hops = pid, 0
        while p and p != root and hops < 64:
            p, hops = parent.get(p, 0), hops + 1
        if p == root:
            total += rss[pid]
    return total


def run_measured(cmd, *, env, cwd, logfile: Path) -> dict:
    """Run cmd in its own session; wall time, exit code, peak RSS of its tree."""
    with open(logfile, "ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        peak = 0
        stop = threading.Event()

        def poll():
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(p.pid))
                stop.wait(0.1)

        th = threading.Thread(target=poll, daemon=True)
        th.start()
        # wait4: the rusage of the child and of every descendant it waited for
        # (omniload waits for its tap and target; ingestr for its workers)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        stop.set()
        th.join()
    return {"wall": wall, "rc": rc, "peak_mb": peak / 2**20,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def count_rows(py: Path, db: Path | str, table: str) -> tuple[int, int]:
    """(rows, distinct gids) of public.<table> (ONE_RUN: summed over every
    table), read with the tool's own duckdb (or psycopg, for a postgresql:// URI)."""
    names = ONE_RUN_TABLES["value"] if table == ONE_RUN else [table]
    query = " union all ".join(f"select count(*) n, count(distinct gid) d from public.{t}" for t in names)
    if isinstance(db, str):
        code = ("import psycopg,sys,json\n"
                "from urllib.parse import urlsplit, unquote\n"
                "u=urlsplit(sys.argv[1])\n"
                "c=psycopg.connect(host=u.hostname, port=u.port, user=unquote(u.username),"
                " password=unquote(u.password), dbname=u.path[1:])\n"
                f"print(json.dumps(list(c.execute('select sum(n)::int, sum(d)::int from ({query}) x').fetchone())))\n")
        out = subprocess.run([str(py), "-c", code, db], capture_output=True, text=True)
        try:
            return tuple(json.loads(out.stdout.strip().splitlines()[-1]))
        except Exception:  # noqa: BLE001 - no table: reported as -1
            return (-1, -1)
    code = (
        "import duckdb,sys,json\n"
        "c=duckdb.connect(sys.argv[1],read_only=True)\n"
        "try:\n"
        f" r=c.execute('select sum(n)::int, sum(d)::int from ({query})').fetchone()\n"
        "except Exception as e:\n"
        " r=(-1,-1)\n"
        "print(json.dumps(list(r)))\n")
    out = subprocess.run([str(py), "-c", code, str(db)], capture_output=True, text=True)
    try:
        return tuple(json.loads(out.stdout.strip().splitlines()[-1]))
    except Exception:  # noqa: BLE001 - no table: reported as -1
        return (-1, -1)


# --------------------------------------------------------------------------- tools
def ours_cmd(sim: Sim, table: str, db: Path | str):
    # ONE_RUN ("all", or a comma list): every table in one run, merge wherever
    # it is incremental, as the single-table runs use it for tasks and stories.
    strategy = ["--incremental-strategy", "merge"] if table in ("stories", ONE_RUN) else []
    dest = (["--dest-schema", "public"] if table == ONE_RUN else ["--dest-table", f"public.{table}"])
    uri = f"asana://{sim.ws}?access_token={TOKEN}&api_url={sim.api_url}"
    source = ",".join(ONE_RUN_TABLES["value"]) if table == ONE_RUN else table
    cmd = [str(OMNILOAD), "ingest", "--source-uri", uri, "--source-table", source,
           "--dest-uri", db if isinstance(db, str) else f"duckdb:///{db}", *dest, "--progress", "log",
           *strategy]
    return cmd, dict(os.environ, OMNILOAD_HOME=str(OMNILOAD_HOME))


INGESTR_STRATEGY = {"value": "merge"}
# What the one run (--one-run) loads: every table, or --one-run-tables (to
# stand against the single-table runs of exactly those, e.g. the eight
# ingestr has too).
ONE_RUN_TABLES: dict[str, tuple[str, ...]] = {"value": ALL_TABLES}


def ingestr_cmd(sim: Sim, table: str, db: Path):
    strategy = (["--incremental-strategy", INGESTR_STRATEGY["value"]]
                if table in ("tasks", "stories") and INGESTR_STRATEGY["value"] != "default" else [])
    cmd = [str(INGESTR_BIN), "ingest", "--yes", "--source-uri",
           f"asana://{sim.ws}?access_token={TOKEN}", "--source-table", table,
           "--dest-uri", f"duckdb:///{db}", "--dest-table", f"public.{table}",
           "--progress", "log", *strategy]
    env = dict(os.environ, PYTHONPATH=str(SHIM), BENCH_ASANA_BASE_URL=sim.api_url,
               OAUTHLIB_INSECURE_TRANSPORT="1", INGESTR_DISABLE_TELEMETRY="1",
               DISABLE_TELEMETRY="1", RUNTIME__LOG_LEVEL="WARNING")
    return cmd, env


TOOLS = {
    "ours": {"cmd": ours_cmd, "py": OUR_PY},
    "ours-postgres": {"cmd": ours_cmd, "py": OUR_PY},    # db is a postgresql:// URI
    "ingestr": {"cmd": ingestr_cmd, "py": INGESTR_PY},
}
TOOL_SETS = {"both": ["ours", "ingestr"], "destinations": ["ours", "ours-postgres"]}


def tool_list(args) -> list[str]:
    return TOOL_SETS.get(args.tools, [args.tools])


# A PostgreSQL server for --tools destinations, run by omniload's own Python
# (it has psycopg): one JSON line when it is up, then a database URI for each
# line read; it stops when stdin closes.
_PG_HELPER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tests import postgres_server
server = postgres_server.start()
print(json.dumps({"port": server.port}), flush=True)
try:
    for _ in sys.stdin:
        print(server.uri(server.create_database()), flush=True)
finally:
    server.stop()
"""


class PgServer:
    def __init__(self):
        self.proc = subprocess.Popen([str(OUR_PY), "-c", _PG_HELPER, str(ROOT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the PostgreSQL server for the benchmark did not start (is postgresql-15 installed?)")
        log(f"PostgreSQL 15 on port {json.loads(line)['port']}")

    def new_database(self) -> str:
        self.proc.stdin.write("db\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


ONE_RUN = "all"


def nominal_concurrency(tool: str, table: str) -> int:
    if tool.startswith("ours"):
        return OUR_CONCURRENCY
    return 1 if table == "tasks" else 5


CORES = os.cpu_count() or 1


def floor_s(requests: int, latency_ms: float, quota: int | None, conc: int) -> float:
    """The least wall time `requests` requests can take.

    Latency-bound: requests x latency / concurrency. Quota-bound: Asana's
    quota is a sliding minute, so the first `quota` requests may all go at
    once, the next `quota` one minute later, and so on: the last one cannot
    start before 60 x floor((requests - 1) / quota) seconds, and takes one
    latency. (The cruder (requests - quota) / quota minutes is lower by up to
    a minute and cannot be reached: the issue's "ingestr stories 438 s, about
    1.2x the floor" for 10,692 requests used it: 367.7 s; here that run's
    floor is 420.2 s.)"""
    lat = requests * latency_ms / 1000 / conc
    if quota and requests > quota:
        q = 60.0 * ((requests - 1) // quota) + latency_ms / 1000
    else:
        q = 0.0
    return max(lat, q)


def measure(tool: str, sim: Sim, table: str, db: Path | str, workdir: Path, label: str,
            extra_env: dict | None = None) -> dict:
    if tool.startswith("ours"):   # an env rebuild (target-duckdb-omniload changed) must not be timed
        subprocess.run([str(OMNILOAD), "setup"], cwd=ROOT, capture_output=True,
                       env=dict(os.environ, OMNILOAD_HOME=str(OMNILOAD_HOME)))
    sim.reset_log()
    sim.reset_quota()
    cmd, env = TOOLS[tool]["cmd"](sim, table, db)
    env.update(extra_env or {})
    sim_cpu = sim.cpu_seconds()
    res = run_measured(cmd, env=env, cwd=str(workdir), logfile=workdir / f"{tool}-{table}.log")
    res["sim_cpu_s"] = sim.cpu_seconds() - sim_cpu
    res["cpu_floor"] = (res["cpu_s"] + res["sim_cpu_s"]) / CORES
    st = sim.stats()
    rows, distinct = count_rows(TOOLS[tool]["py"], db, table)
    by_route = {}
    for k, v in st["by_route"].items():   # rejected requests have no route
        k = k if k.startswith("GET ") else "rejected (no route)"
        by_route[k] = by_route.get(k, 0) + v
    req = st["total"]
    r429 = st["by_status"].get("429", 0)
    conc = nominal_concurrency(tool, table)
    fl = floor_s(req, sim.latency_ms, sim.quota, conc)
    res.update(tool=tool, table=table, run=label, requests=req, r429=r429, rows=rows,
               distinct=distinct, rps=(distinct / res["wall"]) if res["wall"] > 0 else 0,
               floor=fl, conc=conc, by_route=by_route,
               latency_ms=sim.latency_ms, quota=sim.quota,
               max_in_flight=st.get("max_in_flight"))
    status = "ok" if res["rc"] == 0 else f"EXIT {res['rc']} (see {workdir / f'{tool}-{table}.log'})"
    log(f"{label:5} {table:10} {tool:7} {res['wall']:8.1f}s {req:6} req ({r429} x429) "
        f"{rows} rows [{distinct}] peak {res['peak_mb']:.0f} MB floor {fl:.1f}s "
        f"cpu {res['cpu_s']:.1f}+{res['sim_cpu_s']:.1f}s  {status}")
    return res


def run_tool_table(args, tool: str, table: str, workdir: Path) -> list[dict]:
    sim = Sim(args, projects=args.projects, tpp=args.tasks_per_project,
              latency_ms=args.latency_ms, quota=args.quota_per_minute, logdir=workdir,
              name=f"{tool}-{table}")
    try:
        db = workdir / f"{tool}-{table}.db"
        out = [measure(tool, sim, table, db, workdir, "full")]
        if args.change_fraction > 0 and not args.no_rerun and table == "subtasks":
            k = change_subtasks(sim, args.change_fraction, args.seed)
            log(f"edited {k} subtasks in the {tool} simulator")
            if args.removals:
                log(f"added, deleted and moved {restructure_subtasks(sim, args.removals, args.seed)} subtasks")
            runs = []
            for run, env in (("rerun", None),   # then the periodic walk as it comes when due
                             ("walk", {"OMNILOAD_TAP_SETTINGS": json.dumps(
                                 {**json.loads(os.environ.get("OMNILOAD_TAP_SETTINGS") or "{}"),
                                  "subtasks_reconcile_hours": 0.0001})})):
                res = measure(tool, sim, table, db, workdir, run, env)
                res["changed"], res["reached"] = k, reached(TOOLS[tool]["py"], db)
                if args.removals:
                    res["stale"] = stale_rows(sim, TOOLS[tool]["py"], db, table)
                    res["missing"] = stale_rows(sim, TOOLS[tool]["py"], db, table, missing=True)
                    log(f"after the {run}: {res['stale']} rows Asana no longer has, {res['missing']} missing")
                runs.append(res)
            r, walk = runs
            log(f"edits in the table: {r['reached']} of {k} after the rerun, {walk['reached']} after the walk")
            out += runs
        elif args.change_fraction > 0 and not args.no_rerun:
            k = change_tasks(sim, args.change_fraction, args.seed)
            log(f"changed {k} tasks (edit + comment) in the {tool} simulator")
            if args.removals:
                log(f"removed {remove_things(sim, args.removals, args.seed)} tasks and comments")
            r = measure(tool, sim, table, db, workdir, "rerun")
            r["changed"] = k
            if args.removals:
                r["stale"] = stale_rows(sim, TOOLS[tool]["py"], db, table)
            out.append(r)
        return out
    finally:
        sim.stop()


# --------------------------------------------------------------------------- report
def fmt_table(results: list[dict]) -> str:
    stale = any("stale" in r for r in results)
    subtask_edits = [r for r in results if "reached" in r]
    hdr = ("| table | run | tool | wall s | requests | 429 | rows [distinct] | rec/s | peak MB "
           "| floor s (conc) | cpu s tool + sim | cpu floor s | wall/floor |"
           + (" stale rows |" if stale else ""))
    lines = [hdr, "|" + "---|" * (14 if stale else 13)]
    for r in results:
        rows = f"{r['rows']}" + (f" [{r['distinct']}]" if r['distinct'] != r['rows'] else "")
        floor = max(r["floor"], r.get("cpu_floor", 0.0))
        ratio = f"{r['wall'] / floor:.2f}" if floor > 0.05 else "-"
        flag = "" if r["rc"] == 0 else " FAILED"
        cpu = f"{r['cpu_s']:.1f} + {r['sim_cpu_s']:.1f}" if "cpu_s" in r else "-"
        cpu_floor = f"{r['cpu_floor']:.1f}" if "cpu_floor" in r else "-"
        lines.append(
            f"| {r['table']} | {r['run']} | {r['tool']}{flag} | {r['wall']:.1f} | {r['requests']} "
            f"| {r['r429']} | {rows} | {r['rps']:.0f} | {r['peak_mb']:.0f} "
            f"| {r['floor']:.1f} ({r['conc']}) | {cpu} | {cpu_floor} | {ratio} |"
            + (f" {_stale(r)} |" if stale else ""))
    for r in subtask_edits:
        lines.append(f"\n{r['table']} {r['run']}: {r['reached']} of the {r['changed']} subtask edits in the table")
    return "\n".join(lines)


def _stale(r: dict) -> str:
    """Rows left that Asana no longer has, and (subtasks) rows missing."""
    if r.get("stale") is None:
        return "-"
    return f"{r['stale']}" + (f" (+{r['missing']} missing)" if r.get("missing") else "")


def fmt_ratios(results: list[dict]) -> str:
    by = {(r["table"], r["run"], r["tool"]): r for r in results}
    lines = ["| table | run | requests ingestr/ours | wall ingestr/ours | rec/s ours/ingestr "
             "| peak MB ours/ingestr |", "|---|---|---|---|---|---|"]
    keys = sorted({(t, run) for t, run, _ in by}, key=lambda k: (ALL_TABLES.index(k[0]) if
                                                               k[0] in ALL_TABLES else 99, k[1]))
    for t, run in keys:
        o, i = by.get((t, run, "ours")), by.get((t, run, "ingestr"))
        if not (o and i):
            continue
        def div(a, b):
            return f"{a / b:.2f}" if b else "-"
        lines.append(f"| {t} | {run} | {div(i['requests'], o['requests'])} | "
                     f"{div(i['wall'], o['wall'])} | {div(o['rps'], i['rps'])} | "
                     f"{div(o['peak_mb'], i['peak_mb'])} |")
    # totals over tables per run
    for run in ("full", "rerun"):
        os_ = [r for r in results if r["run"] == run and r["tool"] == "ours" and r["table"] != ONE_RUN]
        is_ = [r for r in results if r["run"] == run and r["tool"] == "ingestr"]
        if os_ and is_ and len(os_) == len(is_):
            oq, iq = sum(r["requests"] for r in os_), sum(r["requests"] for r in is_)
            ow, iw = sum(r["wall"] for r in os_), sum(r["wall"] for r in is_)
            lines.append(f"| **all tables** | {run} | {iq}/{oq} = {iq / oq:.2f} | "
                         f"{iw:.1f}/{ow:.1f} = {iw / ow:.2f} | | |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- modes
def ensure_envs(tools):
    if any(t.startswith("ours") for t in tools) and not OUR_PY.exists():
        log("ours: running ./omniload setup")
        subprocess.run([str(OMNILOAD), "setup"], check=True, cwd=ROOT,
                       env=dict(os.environ, OMNILOAD_HOME=str(OMNILOAD_HOME)))
    if "ingestr" in tools and not INGESTR_BIN.exists():
        log("ingestr: creating bench/.venv-ingestr")
        subprocess.run(["bash", str(BENCH / "ingestr_env.sh")], check=True)


def mode_sync(args, workdir):
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    tools = tool_list(args)
    results = []
    if args.one_run_tables != "all":
        wanted = {t.strip() for t in args.one_run_tables.split(",")}
        ONE_RUN_TABLES["value"] = tuple(t for t in ALL_TABLES if t in wanted)
    if args.one_run and "ours" in tools:
        results += run_tool_table(args, "ours", ONE_RUN, workdir)
        save(args, results, workdir)
    for table in tables:
        run_tools = [t for t in tools if not (t == "ingestr" and table == "subtasks")]
        if run_tools != tools:
            log("ingestr has no subtasks table: ours only")
        if args.parallel and len(run_tools) == 2:
            outs = {}
            ths = [threading.Thread(target=lambda t=t, outs=outs, table=table: outs.__setitem__(
                t, run_tool_table(args, t, table, workdir))) for t in run_tools]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            for t in run_tools:
                results += outs.get(t, [])
        else:
            for tool in run_tools:
                results += run_tool_table(args, tool, table, workdir)
        save(args, results, workdir)
    order = {"full": 0, "rerun": 1, "walk": 2}
    results.sort(key=lambda r: (order[r["run"]], ([*ALL_TABLES, ONE_RUN]).index(r["table"]), r["tool"]))
    return results


def fmt_one_run(results: list[dict]) -> str:
    """The one-run load against the single-table runs summed, per run kind."""
    out = ["| run | ours, one run: wall s / requests / peak MB | ours, single-table runs summed: "
           "wall s / requests | ingestr, single-table runs summed: wall s / requests | "
           "one run / ours summed | one run / ingestr summed |", "|---|---|---|---|---|---|"]
    for run in ("full", "rerun"):
        one = [r for r in results if r["run"] == run and r["table"] == ONE_RUN]
        if not one:
            continue
        sums = {}
        for tool in ("ours", "ingestr"):
            rows = [r for r in results if r["run"] == run and r["tool"] == tool and r["table"] != ONE_RUN]
            if rows:
                sums[tool] = (sum(r["wall"] for r in rows), sum(r["requests"] for r in rows), len(rows))
        o = one[0]
        cells = [f"{o['wall']:.1f} / {o['requests']} / {o['peak_mb']:.0f}"]
        for tool in ("ours", "ingestr"):
            cells.append(f"{sums[tool][0]:.1f} / {sums[tool][1]} ({sums[tool][2]} runs)" if tool in sums else "-")
        for tool in ("ours", "ingestr"):
            cells.append(f"{o['wall'] / sums[tool][0]:.2f}x" if tool in sums and sums[tool][0] else "-")
        out.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def mode_throughput(args, workdir):
    tools = tool_list(args)
    pg = PgServer() if "ours-postgres" in tools else None
    results = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            projects = max(1, size // args.tasks_per_project)
            for repeat in range(args.repeat if args.tools == "destinations" else 1):
                # Destinations alternate which goes first, so neither always meets a warm cache.
                order = tools if repeat % 2 == 0 else tools[::-1]
                for tool in order:
                    sim = Sim(args, projects=projects, tpp=args.tasks_per_project, latency_ms=0,
                              quota=None, logdir=workdir, name=f"tp-{tool}-{size}-{repeat}")
                    try:
                        db = pg.new_database() if tool == "ours-postgres" and pg else \
                            workdir / f"tp-{tool}-{size}-{repeat}.db"
                        r = measure(tool, sim, "tasks", db, workdir, f"{size // 1000}k")
                        r["size"] = size
                        results.append(r)
                    finally:
                        sim.stop()
            save(args, results, workdir)
    finally:
        if pg is not None:
            pg.stop()
    return results


def fmt_destinations(results):
    """--tools destinations: medians per size and destination, and the ratio."""
    lines = ["| tasks | destination | runs | wall s (median) | rec/s (median) | peak MB (max) | cpu s (median) |",
             "|---|---|---|---|---|---|---|"]
    ratios = []
    for size in sorted({r["size"] for r in results}):
        medians = {}
        for tool, name in (("ours", "DuckDB"), ("ours-postgres", "PostgreSQL")):
            rs = [r for r in results if r["size"] == size and r["tool"] == tool and r["rc"] == 0]
            if not rs:
                continue
            medians[tool] = statistics.median(r["rps"] for r in rs)
            lines.append(f"| {size} | {name} | {len(rs)} | {statistics.median(r['wall'] for r in rs):.1f} "
                         f"| {medians[tool]:.0f} | {max(r['peak_mb'] for r in rs):.0f} "
                         f"| {statistics.median(r['cpu_s'] for r in rs):.1f} |")
        if len(medians) == 2:
            ratios.append(f"{size} tasks: PostgreSQL / DuckDB rec/s = {medians['ours-postgres'] / medians['ours']:.2f}")
    return "\n".join(lines + [""] + ratios)


def fmt_throughput(results):
    lines = ["| tasks | tool | wall s | requests | rows [distinct] | rec/s | peak MB "
             "| cpu s tool + sim |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows = f"{r['rows']}" + (f" [{r['distinct']}]" if r['distinct'] != r['rows'] else "")
        cpu = f"{r['cpu_s']:.1f} + {r['sim_cpu_s']:.1f}" if "cpu_s" in r else "-"
        lines.append(f"| {r['size']} | {r['tool']}{'' if r['rc'] == 0 else ' FAILED'} "
                     f"| {r['wall']:.1f} | {r['requests']} | {rows} | {r['rps']:.0f} "
                     f"| {r['peak_mb']:.0f} | {cpu} |")
    return "\n".join(lines)


def mode_startup(args, workdir):
    tools = tool_list(args)
    out = []
    for tool in tools:
        sim = Sim(args, projects=2, tpp=2, latency_ms=0, quota=None, logdir=workdir,
                  name=f"startup-{tool}")
        try:
            walls = []
            for i in range(args.repeat):
                db = workdir / f"startup-{tool}-{i}.db"
                cmd, env = TOOLS[tool]["cmd"](sim, "workspaces", db)
                r = run_measured(cmd, env=env, cwd=str(workdir),
                                 logfile=workdir / f"startup-{tool}.log")
                if r["rc"] != 0:
                    log(f"startup {tool}: exit {r['rc']}")
                walls.append(r["wall"])
            out.append({"tool": tool, "walls": walls, "min": min(walls),
                        "median": statistics.median(walls)})
            log(f"startup {tool}: min {min(walls):.2f}s median {statistics.median(walls):.2f}s")
        finally:
            sim.stop()
    return out


def save(args, results, workdir):
    (workdir / "results.json").write_text(json.dumps({"args": vars(args), "results": results},
                                                     indent=1, default=str))


def report(paths):
    keyed = {}
    every = [r for p in paths for r in json.loads(Path(p).read_text())["results"]]
    if any(r.get("tool") == "ours-postgres" for r in every):
        print(fmt_destinations(every))      # repeats are the point: medians of all of them
        return
    for p in paths:
        data = json.loads(Path(p).read_text())
        a = data["args"]
        for r in data["results"]:
            r.setdefault("latency_ms", a["latency_ms"])
            r.setdefault("quota", a["quota_per_minute"])
            r["floor"] = floor_s(r["requests"], r["latency_ms"], r["quota"], r["conc"])
            key = (r["table"], r["run"], r["tool"], r.get("size"))
            # a later file wins, except that a failed run never hides a good one
            if key not in keyed or r["rc"] == 0 or keyed[key]["rc"] != 0:
                keyed[key] = r
    results = list(keyed.values())
    if results and "size" in results[0]:
        print(fmt_throughput(results))
        return
    order = {"full": 0, "rerun": 1, "walk": 2}
    results.sort(key=lambda r: (order[r["run"]], ([*ALL_TABLES, ONE_RUN]).index(r["table"]), r["tool"]))
    print(fmt_table(results))
    print()
    print(fmt_ratios(results))
    if any(r["table"] == ONE_RUN for r in results):
        print()
        print(fmt_one_run(results))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--projects", type=int, default=30)
    ap.add_argument("--tasks-per-project", type=int, default=30)
    ap.add_argument("--latency-ms", type=float, default=150)
    ap.add_argument("--quota-per-minute", type=int, default=1500,
                    help="0: no quota")
    ap.add_argument("--change-fraction", type=float, default=0.01,
                    help="fraction of tasks changed before the rerun (0: no rerun)")
    ap.add_argument("--no-rerun", action="store_true")
    ap.add_argument("--removals", type=int, default=0, metavar="N",
                    help="before the rerun also delete N tasks, take N out of every project, "
                         "delete N comments and rename a project (subtasks: add N under project tasks "
                         "and N under subtasks, delete N, move N under another task); report rows "
                         "left stale (and, for subtasks, missing)")
    ap.add_argument("--tables", default="tasks,stories",
                    help=f"comma-separated, from {','.join(ALL_TABLES)} (or 'all')")
    ap.add_argument("--tools", choices=("ours", "ingestr", "both", "destinations"), default="both",
                    help="destinations (--throughput only): ours into DuckDB and into PostgreSQL")
    ap.add_argument("--one-run", action="store_true",
                    help="also load every table in ONE omniload run (--source-table all) and compare "
                         "it with the single-table runs of --tables summed")
    ap.add_argument("--one-run-tables", default="all",
                    help="what the one run loads: all (default) or a comma-separated list, e.g. the "
                         "eight tables ingestr has too (it has no subtasks)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subtask-fraction", type=float, default=0.1,
                    help="subtasks per project task (the simulator's default)")
    ap.add_argument("--subtask-nesting", type=float, default=0.2,
                    help="chance a subtask goes under another subtask")
    ap.add_argument("--subtask-parent-share", type=float, default=1.0,
                    help="share of project tasks that may get subtasks (below 1: they cluster)")
    ap.add_argument("--events-bubble-all-levels", action="store_true",
                    help="the simulator's project events carry every level of subtasks")
    ap.add_argument("--ingestr-strategy", choices=("merge", "default"), default="merge",
                    help="ingestr's --incremental-strategy for tasks and stories: merge (its "
                         "incremental mode; default here) or its own default (replace: every "
                         "run is a full sync)")
    ap.add_argument("--parallel", action="store_true",
                    help="run ours and ingestr at the same time (threads, separate "
                         "simulators); saves time on quota-bound runs, skews CPU-bound ones. "
                         "Once an omniload run got a SIGTERM of unknown origin in this mode; "
                         "two bench.py processes (--tools ours / --tools ingestr) are safer")
    ap.add_argument("--throughput", action="store_true",
                    help="tasks only, no latency, no quota, at --sizes")
    ap.add_argument("--sizes", default="10000,30000,100000",
                    help="task counts for --throughput (projects = size / tasks-per-project)")
    ap.add_argument("--startup", action="store_true", help="fixed cost of one CLI run")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--report", metavar="RESULTS_JSON", nargs="+",
                    help="only print the tables of saved results.json files (merged)")
    ap.add_argument("--workdir", help="where dbs, logs and results.json go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    if args.report:
        return report(args.report)
    if args.tables == "all":
        args.tables = ",".join(ALL_TABLES)
    INGESTR_STRATEGY["value"] = args.ingestr_strategy
    if args.quota_per_minute == 0:
        args.quota_per_minute = None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="omniload-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tools = tool_list(args)
    if args.tools == "destinations" and not args.throughput:
        ap.error("--tools destinations goes with --throughput")
    ensure_envs(tools)
    log(f"work dir {workdir}")
    try:
        if args.startup:
            res = mode_startup(args, workdir)
            print("| tool | runs | min s | median s |\n|---|---|---|---|")
            for r in res:
                print(f"| {r['tool']} | {len(r['walls'])} | {r['min']:.2f} | {r['median']:.2f} |")
        elif args.throughput:
            if args.tasks_per_project == 30:
                args.tasks_per_project = 500
            res = mode_throughput(args, workdir)
            print(f"\nthroughput: tasks, no latency, no quota, "
                  f"{args.tasks_per_project} tasks/project, seed {args.seed}\n")
            print(fmt_throughput(res))
            if args.tools == "destinations":
                print()
                print(fmt_destinations(res))
        else:
            res = mode_sync(args, workdir)
            q = args.quota_per_minute or "no"
            print(f"\n{args.projects} projects x {args.tasks_per_project} tasks, "
                  f"{args.latency_ms:g} ms latency, {q} quota/min, seed {args.seed}, "
                  f"rerun after changing {args.change_fraction:.1%} of tasks"
                  + (f", with {args.removals} removals of each kind (see --removals)" if args.removals else "")
                  + "\n")
            print(fmt_table(res))
            print()
            print(fmt_ratios(res))
            if args.one_run:
                print()
                print(fmt_one_run(res))
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
