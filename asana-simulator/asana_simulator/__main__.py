"""CLI: serve a simulated Asana until SIGTERM/SIGINT.

Prints exactly one JSON line on stdout once the server accepts connections:
{"api_url", "control_url", "token", "workspace_gid", ...}
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .faults import KINDS
from .generator import WorkspaceSpec
from .server import Simulator


def _pair(value: str) -> tuple[int, int]:
    lo, _, hi = value.partition(",")
    return int(lo), int(hi or lo)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (omit it for no quota)")
    return value


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="asana-simulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--token", default="sim-token")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--projects", type=int, default=5)
    ap.add_argument("--tasks-per-project", type=int, default=20)
    ap.add_argument("--users", type=int, default=25)
    ap.add_argument("--tags", type=int, default=8)
    ap.add_argument("--teams", type=int, default=3)
    ap.add_argument("--sections-per-project", type=int, default=3)
    ap.add_argument("--stories-per-task", type=_pair, default=(0, 4), metavar="MIN,MAX")
    ap.add_argument("--archived-fraction", type=float, default=0.2)
    ap.add_argument("--multi-homed-fraction", type=float, default=0.1)
    ap.add_argument("--subtask-fraction", type=float, default=0.1)
    ap.add_argument("--subtask-nesting", type=float, default=0.2,
                    help="chance a generated subtask goes under another subtask")
    ap.add_argument("--subtask-parent-share", type=float, default=1.0,
                    help="share of project tasks that may get subtasks (below 1: they cluster)")
    ap.add_argument("--events-bubble-all-levels", action="store_true",
                    help="a project's event stream carries its sub-subtasks' events too")
    ap.add_argument("--sync-token-ttl-s", type=float, default=86400.0)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--latency-jitter-ms", type=float, default=0)
    ap.add_argument("--quota-per-minute", type=_positive, default=None,
                    help="requests per token per minute; omit for no quota")
    ap.add_argument("--max-concurrent", type=int, default=50)
    ap.add_argument("--offset-ttl-s", type=float, default=None)
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--fault-kinds", default=",".join(KINDS))
    ap.add_argument("--fault-seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    spec = WorkspaceSpec(
        projects=a.projects, tasks_per_project=a.tasks_per_project, users=a.users, tags=a.tags,
        teams=a.teams, sections_per_project=a.sections_per_project,
        stories_per_task=a.stories_per_task, archived_fraction=a.archived_fraction,
        multi_homed_fraction=a.multi_homed_fraction, subtask_fraction=a.subtask_fraction,
        subtask_nesting=a.subtask_nesting, subtask_parent_share=a.subtask_parent_share, seed=a.seed)
    sim = Simulator(spec, token=a.token, quota_per_minute=a.quota_per_minute,
                    max_concurrent=a.max_concurrent, latency_ms=a.latency_ms,
                    latency_jitter_ms=a.latency_jitter_ms, offset_ttl_s=a.offset_ttl_s,
                    host=a.host, port=a.port, fault_rate=a.fault_rate,
                    fault_kinds=tuple(k for k in a.fault_kinds.split(",") if k),
                    fault_seed=a.fault_seed, events_bubble_all_levels=a.events_bubble_all_levels,
                    sync_token_ttl_s=a.sync_token_ttl_s)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sim.start()
    info = sim.info()
    print(json.dumps({k: info[k] for k in ("api_url", "control_url", "token", "workspace_gid",
                                           "org_workspace_gid", "personal_workspace_gid")}),
          flush=True)
    try:
        stop.wait()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
