"""Which tasks exist now, and which changed without saying so.

`modified_since` shows what was edited, not what went away: a deleted task,
or one removed from every project, is returned by no listing ever again, and
a renamed project changes the name every one of its tasks shows without
modifying any of them. So a recurring run also takes a compact listing of
every project: each task's gid, `modified_at`, `num_subtasks` and the nested
references Asana renders live (projects, memberships, tags, assignee,
parent), reduced to a short fingerprint. (Comparing fingerprints, not `modified_at` against
the bookmark, also spares re-fetching the task whose `modified_at` the
bookmark equals on every run.) Diffed against the previous run's snapshot (kept in
the stream's state) it names every task to re-fetch and every task to
remove, at about one request per 100 tasks of each project. `num_subtasks`
is in it because adding or removing a subtask changes the count without
modifying the parent, and because the subtasks stream needs it: only a task
with subtasks has any to list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

# Top-level task fields whose nested names Asana renders at read time.
LIVE_FIELDS = ("projects", "memberships", "tags", "assignee", "parent")


# What a task's subtasks show of it: their `parent` is {gid, name,
# resource_subtype}. With `num_subtasks`, they decide when to list them again.
SHOWN_TO_SUBTASKS = ("name", "resource_subtype")


def index_opt_fields(task_opt_fields: Iterable[str]) -> list[str]:
    """The compact listing's fields: enough to fingerprint what the full
    record shows of LIVE_FIELDS and `num_subtasks` (only the selected ones),
    to compare `modified_at` with the bookmark and, with `num_subtasks`,
    to tell when a task's subtasks show it otherwise (children_digest)."""
    fields = list(task_opt_fields)
    live = [f for f in fields if f.split(".", 1)[0] in LIVE_FIELDS]
    counted = ["num_subtasks", *SHOWN_TO_SUBTASKS] if "num_subtasks" in fields else []
    return ["modified_at", *counted, *live]


def fingerprint(task: dict) -> str:
    """A short digest of the task's `modified_at`, subtask count and live
    nested references, equal for the compact listing and the full record of
    the same task: it changes when the task was edited, moved, renamed
    around, or got or lost a subtask."""
    live = {name: task.get(name) for name in ("modified_at", *LIVE_FIELDS) if name in task}
    if task.get("num_subtasks"):
        # Only when there are some: a task without subtasks keeps the
        # fingerprint an older tap gave it (its snapshot stays good).
        live["num_subtasks"] = task["num_subtasks"]
    canonical = json.dumps(live, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=6).hexdigest()


def children_digest(task: dict) -> str:
    """Changes when a task's subtasks must be listed again: it got or lost
    one, or what they show of it (SHOWN_TO_SUBTASKS) moved. Not its other
    edits, nor a comment: its subtasks' records stay the same."""
    count = task.get("num_subtasks")
    text = "|".join([*(str(task.get(name) or "") for name in SHOWN_TO_SUBTASKS),
                     str(count if isinstance(count, int) else 0)])
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


@dataclass
class IndexedTask:
    modified_at: str | None
    fingerprint: str
    projects: list[str] = field(default_factory=list)  # where the listing found it
    num_subtasks: int = 0
    parent: str | None = None   # a project task can be another task's subtask too
    children: str = ""          # children_digest (with num_subtasks in the listing)

    @classmethod
    def of(cls, task: dict) -> IndexedTask:
        """The entry of a task as a listing (compact or full) returned it."""
        count, parent = task.get("num_subtasks"), task.get("parent")
        return cls(task.get("modified_at"), fingerprint(task), [], count if isinstance(count, int) else 0,
                   str(parent["gid"]) if isinstance(parent, dict) and parent.get("gid") else None,
                   children_digest(task))
