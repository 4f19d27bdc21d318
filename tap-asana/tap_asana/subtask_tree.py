"""The subtasks a run published, as a tree the next run starts from.

Asana lists subtasks only parent by parent (`GET /tasks/{gid}/subtasks`,
no time filter), so a recurring run can't list them all to find what
changed, and a subtask that was deleted, or whose parent left the
workspace's projects, is in no listing at all. The tree makes both
visible without walking it: each subtask's parent, the fingerprint of its
record as last emitted (task_index.fingerprint) and a digest of what its own
subtasks show of it (its name and type, their `parent`) and of
`num_subtasks` (task_index.children_digest). A project task with subtasks is a root (parent `-`), kept
for that digest alone. A subtask is in the table when its chain of parents
reaches a root; whatever no longer does leaves it, without a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tap_asana.snapshots import decode_lines, encode_lines

ROOT = "-"  # the parent of a project task kept as a root
# The parent of a subtask that left while the catalog had no place for a
# tombstone: never reachable, so it is removed once tombstones can be sent.
GONE = "!"


@dataclass(frozen=True, slots=True)
class Node:
    parent: str        # the parent task's gid, or ROOT
    fingerprint: str   # of the record as emitted ("-" for a root)
    children: str      # task_index.children_digest of the task


class SubtaskTree:
    def __init__(self, nodes: dict[str, Node] | None = None) -> None:
        self.nodes: dict[str, Node] = nodes if nodes is not None else {}

    @classmethod
    def decode(cls, encoded: str | None) -> SubtaskTree | None:
        if not encoded:
            return None
        nodes: dict[str, Node] = {}
        parents: dict[str, str] = {}   # one string per parent, not one per child
        for gid, value in decode_lines(encoded):
            parent, fingerprint, children = value.split(" ")
            nodes[gid] = Node(parents.setdefault(parent, parent), fingerprint, children)
        return cls(nodes)

    def encode(self) -> str:
        def lines() -> Iterator[tuple[str, str]]:
            nodes = self.nodes
            for gid in sorted(nodes):   # the keys alone sort five times faster than the items
                node = nodes[gid]
                yield gid, f"{node.parent} {node.fingerprint} {node.children}"

        return encode_lines(lines())

    def children(self) -> dict[str, list[str]]:
        """parent gid -> the gids of its subtasks in the tree."""
        out: dict[str, list[str]] = {}
        for gid, node in self.nodes.items():
            if node.parent != ROOT:
                out.setdefault(node.parent, []).append(gid)
        return out

    def subtasks(self) -> set[str]:
        """Every row the table holds, or held and still has to lose."""
        return {gid for gid, node in self.nodes.items() if node.parent != ROOT}

    def reachable(self, roots: Iterable[str]) -> set[str]:
        """The subtasks whose chain of parents reaches one of roots (the
        tasks in the workspace's projects now): the table's rows."""
        children = self.children()
        found: set[str] = set()
        pending = list(roots)
        while pending:
            for child in children.get(pending.pop(), ()):
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return found
