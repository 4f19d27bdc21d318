"""Random subtask changes of every kind, made in a simulated workspace (the
tap's and the reliability tests' rounds of Asana activity)."""

from __future__ import annotations

import random


def depth(sim, gid) -> int:
    n, record = 0, sim.store.record("tasks", gid)
    while record["parent"]:
        n, record = n + 1, sim.store.record("tasks", record["parent"]["gid"])
    return n


def change_subtasks(sim, rng: random.Random, n: int, *, max_depth: int | None = None) -> list[str]:
    """n random subtask changes of every kind (touching subtasks no deeper
    than max_depth, and commenting on none deeper than max_depth - 1: a
    story is a level below its task); what was done, for failure messages."""
    store, ws = sim.store, sim.org_workspace_gid
    done = []
    while len(done) < n:
        project_tasks = sorted(t for p in store.gids("projects", ws) for t in store.gids("tasks", project_gid=p))
        subtasks = sorted(g for g in store.subtask_gids(ws) if max_depth is None or depth(sim, g) <= max_depth)
        shallow = [g for g in subtasks if max_depth is None or depth(sim, g) < max_depth]
        kind = rng.choice(["add", "add_deep", "edit", "edit", "complete", "delete", "delete_parent", "nest",
                           "unnest", "move", "into_project", "undelete", "comment"])
        if kind == "add":
            store.add_subtask(rng.choice(project_tasks), name=f"new {rng.random():.6f}")
        elif kind == "add_deep" and shallow:
            store.add_subtask(rng.choice(shallow), name=f"deep {rng.random():.6f}")
        elif kind == "edit" and subtasks:
            store.edit_task(rng.choice(subtasks), name=f"edited {rng.random():.6f}")
        elif kind == "complete" and subtasks:
            store.edit_task(rng.choice(subtasks), completed=True, assignee=None)
        elif kind == "delete" and subtasks:
            store.delete_task(rng.choice(subtasks))
        elif kind == "delete_parent":
            parents = [t for t in project_tasks if store.record("tasks", t)["num_subtasks"]]
            if not parents:
                continue
            store.delete_task(rng.choice(parents))
        elif kind == "nest":   # a project task becomes a subtask too (both tables)
            task, parent = rng.choice(project_tasks), rng.choice([*project_tasks, *shallow])
            if task == parent or depth(sim, parent) + 1 > (max_depth or 99):
                continue
            if max_depth is not None and store.record("tasks", task)["num_subtasks"]:
                continue       # its subtasks would go deeper than max_depth
            try:
                store.set_parent(task, parent)
            except ValueError:   # its own subtask
                continue
        elif kind == "unnest" and subtasks:
            store.set_parent(rng.choice(subtasks), None)
        elif kind == "move" and subtasks:
            task = rng.choice(subtasks)
            try:
                store.set_parent(task, rng.choice(project_tasks))
            except ValueError:
                continue
        elif kind == "into_project" and subtasks:
            store.add_task_to_project(rng.choice(subtasks), rng.choice(store.gids("projects", ws)))
        elif kind == "undelete":
            trashed = [t.gid for t in store.tasks if t.deleted and t.trashed_with == t.gid and t.parent
                       and not t.parent.deleted and (max_depth is None or depth(sim, t.parent.gid) < max_depth)]
            if not trashed:
                continue
            store.undelete_task(rng.choice(trashed))
        elif kind == "comment" and shallow:
            store.add_story(rng.choice(shallow), "a comment")
        else:
            continue
        done.append(kind)
    return done
