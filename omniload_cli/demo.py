"""`omniload demo`: see it work without an Asana account.

Starts the bundled simulator (asana-simulator/, stdlib only, run with
omniload's own interpreter) on a free local port, ingests every table through the
real tap and target in one run, exactly as `ingest --source-table all` would,
prints what each table got, the row counts and a sample query, and stops the
simulator.  The run is a --full-refresh, so re-running the demo always gives
a clean copy.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from omniload_cli import ingest, sources, tables
from omniload_cli.errors import OmniloadError
from omniload_cli.uri import AsanaSource, DuckDBDest, parse_dest_table

SAMPLE_QUERY = """\
SELECT p.name AS project, count(DISTINCT t.gid) AS tasks,
       count(DISTINCT t.gid) FILTER (WHERE t.completed) AS completed
FROM public.tasks t, json_each(t.memberships) m
JOIN public.projects p ON p.gid = m.value->'project'->>'gid'
GROUP BY 1 ORDER BY tasks DESC, project LIMIT 5"""


def start_simulator(projects: int, tasks_per_project: int, seed: int) -> tuple[subprocess.Popen, dict]:
    sim_dir = str(sources.simulator_dir())
    env = dict(os.environ, PYTHONPATH=sim_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "asana_simulator", "--port", "0", "--seed", str(seed),
         "--projects", str(projects), "--tasks-per-project", str(tasks_per_project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line:
                try:
                    return proc, json.loads(line)
                except ValueError:
                    continue
        if proc.poll() is not None:
            break
    proc.kill()
    err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
    raise OmniloadError(f"the simulator did not start: {err[-1] if err else 'no output'}")


def run(dest: DuckDBDest, *, projects: int, tasks_per_project: int, seed: int, progress: str) -> int:
    started = time.monotonic()
    sys.stderr.write(f"omniload demo: starting the Asana simulator ({projects} projects x "
                     f"{tasks_per_project} tasks)\n")
    proc, info = start_simulator(projects, tasks_per_project, seed)
    print(f"ingesting all {len(tables.TABLES)} tables from the simulated workspace "
          f"{info['workspace_gid']} into {dest.display}:", flush=True)
    try:
        source = AsanaSource(str(info["workspace_gid"]), info["token"], api_url=info["api_url"])
        plan = ingest.Plan(source=source, dest=dest, full_refresh=True, progress=progress, tables=tuple(
            ingest.TablePlan(table, parse_dest_table(f"public.{name}", name), table.default_strategy)
            for name, table in tables.TABLES.items()))
        summary = ingest.run(plan)
        for table, tp in zip(summary.tables, plan.tables):
            print(f"   loaded public.{tp.table.name:<11} {table.rows_loaded:>6,} rows ({tp.strategy})")
        print(f"   one run, one transaction: {summary.duration_s:.1f} s", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    import duckdb

    from omniload_cli.destinations.duckdb.files import NO_EXTENSION_DOWNLOADS
    con = duckdb.connect(dest.path, read_only=True, config=dict(NO_EXTENSION_DOWNLOADS))
    try:
        print(f"\nrows per table in {dest.display}:")
        for name in tables.TABLES:
            (n,) = con.execute(f'SELECT count(*) FROM public."{name}"').fetchall()[0]
            print(f"   public.{name:<11} {n:>6,}")
        print("\nsample query:\n" + "\n".join("   " + line for line in SAMPLE_QUERY.splitlines()))
        try:
            cur = con.execute(SAMPLE_QUERY)
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(str(c))
                      for i, c in enumerate(cols)]
            print("   " + "  ".join(str(c).ljust(w) for c, w in zip(cols, widths)))
            for r in rows:
                print("   " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
        except Exception as exc:  # noqa: BLE001 - the query is illustration, not the product
            print(f"   (sample query failed: {' '.join(str(exc).split())})")
    finally:
        con.close()
    print(f"\ndone in {time.monotonic() - started:.1f} s. Explore it with the bundled duckdb:\n"
          f"   {sys.executable} -c \"import duckdb; "
          f"print(duckdb.connect('{dest.path}').sql('SELECT * FROM public.tasks LIMIT 5'))\"\n"
          f"Your own workspace:  ./omniload ingest --help")
    return 0
