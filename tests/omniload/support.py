"""Helpers for the omniload tests: running ./omniload for real."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OMNILOAD = REPO / "omniload"
# Environment variables omniload reads; cleared so the developer's shell
# cannot change what a test means.
_OURS = ("SOURCE_URI", "SOURCE_TABLE", "DESTINATION_URI", "DESTINATION_TABLE",
         "INCREMENTAL_STRATEGY", "INTERVAL_START", "INTERVAL_END", "FULL_REFRESH",
         "SKIP_CONFIRMATION", "PROGRESS", "LOCK_TIMEOUT")


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in _OURS and not k.startswith("OMNILOAD_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_omniload(*args, env: dict | None = None, cwd=None, timeout: float = 600,
                 omniload: Path = OMNILOAD, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([str(omniload), *map(str, args)], env=env or clean_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, **popen)


# --- end to end: ./omniload against the in-process simulator ---------------
TOKEN = "2/1207000000000:e2eSECRET0tok+9f"   # a '+' on purpose: kept literal
SECRET_PART = "e2eSECRET0tok"


def make_sim(**spec):
    from asana_simulator import Simulator, WorkspaceSpec

    params = dict(projects=3, tasks_per_project=5, seed=7)
    params.update(spec)
    sim = Simulator(WorkspaceSpec(**params), token=TOKEN)
    sim.start()
    return sim


def source_uri(sim, workspace=None, token=TOKEN) -> str:
    return (f"asana://{workspace or sim.org_workspace_gid}?access_token={token}"
            f"&api_url={sim.api_url}")


def dest_uri(db) -> str:
    """--dest-uri of a test destination: a DuckDB file's path, or a
    PostgreSQL test database (tests.postgres_server.Database)."""
    return getattr(db, "uri", None) or f"duckdb:///{db}"


def ingest(sim, db, table, *extra, dest_table=None, env_extra=None, token=TOKEN,
           workspace=None, timeout=300):
    args = ["ingest", "--source-uri", source_uri(sim, workspace, token), "--source-table", table,
            "--dest-uri", dest_uri(db), "--dest-table", dest_table or f"public.{table}",
            "--progress", "log", *extra]
    return run_omniload(*args, env=clean_env(**(env_extra or {})), timeout=timeout)

