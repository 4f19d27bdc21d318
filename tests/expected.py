"""What a correct extract of a simulated workspace contains: the simulator's
own truth, restricted to what Asana's list endpoints can reach."""

from __future__ import annotations

# The tables omniload loads, the tap's streams: Asana's eight resources, in
# the order the tap syncs them.
TABLES = ("workspaces", "projects", "sections", "tags", "tasks", "stories", "teams", "users")


def expected_gids(sim, stream: str) -> set[str]:
    ws, store = sim.org_workspace_gid, sim.store
    if stream == "workspaces":
        return {ws}
    if stream == "tasks":
        # Reachable through a project listing: subtasks in no project are not.
        return {t["gid"] for t in store.records("tasks", workspace_gid=ws) if t["projects"]}
    if stream == "stories":
        tasks = expected_gids(sim, "tasks")
        return {
            s["gid"]
            for s in store.records("stories", workspace_gid=ws)
            if s["target"]["gid"] in tasks
        }
    return {r["gid"] for r in store.records(stream, workspace_gid=ws)}
