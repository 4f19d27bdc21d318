from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cached_property

from tap_asana import timestamps
from tap_asana.concurrency import merge_parallel
from tap_asana.events import MAX_PAGES, EventsRead, read_events, task_changes
from tap_asana.http.errors import Forbidden, NotFound
from tap_asana.streams.base import AsanaStream
from tap_asana.streams.not_found import skip_if_deleted, workspace_must_exist
from tap_asana.subtask_tree import GONE, ROOT, Node, SubtaskTree
from tap_asana.task_index import SHOWN_TO_SUBTASKS, IndexedTask, children_digest, fingerprint, index_opt_fields
from tap_asana.tombstones import task_tombstone

logger = logging.getLogger("tap_asana")

SNAPSHOT_KEY = "snapshot"   # {workspace gid: encoded SubtaskTree}
SYNC_KEY = "sync"           # {workspace gid: {project gid: the events sync token}}
WALKED_KEY = "walked_at"    # {workspace gid: when the last full walk started}
# Always requested, even when deselected: the tree needs them.
TREE_FIELDS = ("modified_at", "num_subtasks", "parent", *SHOWN_TO_SUBTASKS)


class SubtasksStream(AsanaStream):
    """Every subtask, at every level, of the tasks in the workspace's projects.

    A full walk (the first run, then every `subtasks_reconcile_hours`): for
    each project task whose `num_subtasks` is above zero (the task index has
    it), `GET /tasks/{gid}/subtasks`, and the same for each subtask with
    subtasks of its own, level by level, many at a time. Before it, one
    `GET /events` per project takes a sync token.

    A recurring run does not walk. It reads, per project, the events since
    the last run, and lists the subtasks of a task only where something
    says they changed: the task index (a project task whose `num_subtasks`,
    name or type moved: its subtasks show the last two as their `parent`),
    an event naming a subtask (looked up with `GET /tasks/{gid}`, or its
    parent listed when several siblings changed) or a task that got or lost
    a subtask, a subtask whose own count, name or type moved (its subtasks
    listed in turn), a project whose token Asana refused (412: its subtrees
    walked again).
    The tree of the previous run (subtask_tree.py, in the state) shows what
    left: a subtask its parent no longer lists and nothing placed elsewhere
    is looked up once; a subtask whose chain of parents no longer reaches a
    project task (deleted, its parent deleted or taken out of every project)
    is removed without a request. Removals are tombstones, as for tasks.

    Events may be lost, and Asana doesn't say whether a project's events
    carry those of its subtasks' subtasks: the periodic full walk makes the
    table exact whatever the events missed.
    """

    name = "subtasks"
    replication_key = "modified_at"
    is_sorted = False
    emits_tombstones = True

    def get_replication_key_signpost(self, context: t.Mapping[str, t.Any] | None = None) -> str:
        return self.listings.watermark(self._tap_asana.started_at)

    @cached_property  # read per request; the catalog is final before the sync
    def fields(self) -> list[str]:
        selected = self.opt_fields
        return [*selected, *(f for f in TREE_FIELDS if f not in selected)]

    def records(self) -> t.Iterable[dict]:
        snapshots = dict(self.stream_state.get(SNAPSHOT_KEY) or {})
        tokens = dict(self.stream_state.get(SYNC_KEY) or {})
        walked = dict(self.stream_state.get(WALKED_KEY) or {})
        hours = float(self.config["subtasks_reconcile_hours"])
        started = self._tap_asana.started_at
        for workspace_gid in self.listings.workspace_gids():
            previous = SubtaskTree.decode(snapshots.get(workspace_gid))
            full = previous is None or _due(walked.get(workspace_gid), hours, started)
            run = _Run(self, workspace_gid, previous or SubtaskTree())
            with workspace_must_exist(workspace_gid):
                yield from run.records(full=full, tokens=tokens.get(workspace_gid) or {}, events=hours > 0)
            snapshots[workspace_gid] = run.tree.encode()
            if hours > 0:
                tokens[workspace_gid] = run.tokens
            else:  # walking every run: no events to follow
                tokens.pop(workspace_gid, None)
            if full:
                walked[workspace_gid] = timestamps.to_asana(started)
        self.stream_state[SNAPSHOT_KEY] = snapshots
        self.stream_state[SYNC_KEY] = tokens
        self.stream_state[WALKED_KEY] = walked


def _parent_gid(record: dict | None) -> str | None:
    parent = record.get("parent") if record else None
    return str(parent["gid"]) if isinstance(parent, dict) and parent.get("gid") else None


def _due(walked_at: str | None, hours: float, now: datetime) -> bool:
    if hours <= 0 or not walked_at:
        return True
    return now - timestamps.parse(walked_at) >= timedelta(hours=hours)


class _Run:
    """One workspace's subtasks in one run: what to list and look up, and
    the tree it leaves."""

    def __init__(self, stream: SubtasksStream, workspace_gid: str, previous: SubtaskTree) -> None:
        self.stream = stream
        self.listings = stream.listings
        self.workspace_gid = workspace_gid
        # The previous run's tree, brought up to date in place (a million
        # subtasks make some 370 MB of it: no copy; bench/subtask_state.py).
        # Every subtask it holds at any point of the run is a row of the
        # table, sent in this run or before.
        self.tree = previous
        self.previous_children = previous.children()
        self.dropped: dict[str, Node] = {}             # rows taken out of the tree this run
        self.tokens: dict[str, str] = {}
        self.fresh_children: dict[str, set[str]] = {}  # tasks whose subtasks were read this run
        self.placed: set[str] = set()                  # subtasks whose parent was read this run
        self.looked_up: set[str] = set()
        self.gone: set[str] = set()                    # tasks Asana answered 404 for when listed
        self.orphans_checked: set[str] = set()
        self.count_changed: set[str] = set()           # tasks a subtask arrived under or left

    # The plan --------------------------------------------------------------
    def records(self, *, full: bool, tokens: dict[str, str], events: bool) -> Iterator[dict]:
        fields = self.stream.fields
        index = self.listings.task_index(self.workspace_gid, index_opt_fields(fields))
        projects = self.listings.project_gids(self.workspace_gid)
        expired: set[str] = set(projects)
        changed: dict[str, set[str]] = {}
        if events:
            # Before any subtask is read: whatever changes from here on is in
            # the next run's events.
            expired, changed = self._read_events(projects, {} if full else tokens)
        to_list, emptied = self._what_the_index_shows(index, full, expired)
        for gid in emptied:
            self.fresh_children[gid] = set()   # read, in effect: it has none now
        look_up: set[str] = set()
        strangers: set[str] = set()   # tasks the tree doesn't know, looked up unless a listing places them
        if not full:
            edited, strangers = self._nested_project_tasks(index)
            listings, look_up, unknown = self._what_events_name(changed, edited, index)
            strangers |= unknown
            for gid, whole in listings.items():
                to_list[gid] = to_list.get(gid, False) or whole
        yield from self._walk(to_list, look_up)
        yield from self._walk({}, strangers)
        yield from self._finish(index)

    def _read_events(self, projects: list[str], tokens: dict[str, str]) -> tuple[set[str], dict[str, set[str]]]:
        def read(project_gid: str) -> Iterator[tuple[str, EventsRead]]:
            yield project_gid, read_events(self.stream.client, project_gid, tokens.get(project_gid))

        expired: set[str] = set()
        changed: dict[str, set[str]] = {}
        for project_gid, got in merge_parallel(skip_if_deleted("project", read), projects, self.stream.concurrency):
            self.tokens[project_gid] = got.token
            if got.busy:
                logger.info("project %s had more than %d events since the last run: its subtasks are "
                            "read in full instead", project_gid, MAX_PAGES * 100)
            if got.expired:
                expired.add(project_gid)
            for gid, actions in task_changes(got.events).items():
                changed.setdefault(gid, set()).update(actions)
        return expired, changed

    def _what_the_index_shows(self, index: dict[str, IndexedTask], full: bool,
                              expired: set[str]) -> tuple[dict[str, bool], set[str]]:
        """The project tasks whose subtasks to list (gid -> walk the whole
        subtree: a full walk, or a project whose token was refused), because
        they have some and, unless walking, their count or what the subtasks
        show of them moved; and those that had subtasks and have none now."""
        to_list: dict[str, bool] = {}
        emptied: set[str] = set()
        for gid, entry in index.items():
            node = self.tree.nodes.get(gid)
            if entry.num_subtasks and (full or expired.intersection(entry.projects)):
                to_list[gid] = True
            elif entry.num_subtasks and (node is None or node.children != entry.children):
                to_list[gid] = False
            elif not entry.num_subtasks and self.previous_children.get(gid):
                emptied.add(gid)
        return to_list, emptied

    def _nested_project_tasks(self, index: dict[str, IndexedTask]) -> tuple[set[str], set[str]]:
        """Project tasks that are subtasks too, as the index shows them: those
        the table has as subtasks whose fingerprint moved (edited), and those
        nested under a task the table knows that the tree doesn't have as
        subtasks (new to it)."""
        edited: set[str] = set()
        new: set[str] = set()
        for gid, entry in index.items():
            node = self.tree.nodes.get(gid)
            if node is not None and node.parent not in (ROOT, GONE):
                if node.fingerprint != entry.fingerprint:
                    edited.add(gid)
            elif entry.parent and (entry.parent in index or entry.parent in self.tree.nodes):
                new.add(gid)
        return edited, new

    def _what_events_name(self, changed: dict[str, set[str]], edited: set[str],
                          index: dict[str, IndexedTask]) -> tuple[dict[str, bool], set[str], set[str]]:
        """What the events (and `edited`, subtasks the index shows changed)
        ask to read: (tasks whose subtasks to list -> the whole subtree,
        subtasks to look up, tasks the tree doesn't know). A task that got or
        lost a subtask has its subtasks listed, a restored one its whole
        subtree (they came back with it, modified); a subtask that changed
        is looked up, unless several siblings did: their parent is listed
        instead."""
        listings: dict[str, bool] = {}
        look_up: set[str] = set()
        unknown: set[str] = set()
        by_parent: dict[str, list[str]] = {}
        for gid in changed.keys() | edited:
            actions = changed.get(gid, set())
            node = self.tree.nodes.get(gid)
            if node is not None and node.parent == GONE:
                node = None
            if node is not None or gid in index:
                if "undeleted" in actions:
                    listings[gid] = True
                elif "subtasks" in actions:
                    listings[gid] = False   # one came or went (the count may read the same)
            own = (actions - {"subtasks"}) | ({"changed"} if gid in edited else set())
            if not own or (node is None and (gid in index or own == {"deleted"})):
                continue   # a project task's own changes are in the index; a stranger gone
            if node is not None and node.parent == ROOT:
                continue
            if node is None:
                unknown.add(gid)   # new, or moved in: its new parent may well be listed anyway
                continue
            by_parent.setdefault(node.parent, []).append(gid)
            look_up.add(gid)
        for parent, siblings in by_parent.items():
            if len(siblings) > 1:
                listings.setdefault(parent, False)
        return listings, look_up, unknown

    # Reading -----------------------------------------------------------------
    def _walk(self, to_list: dict[str, bool], look_up: set[str]) -> Iterator[dict]:
        """List the tasks in to_list (level by level, many at a time), then
        look up what is left in look_up, until neither finds more to do."""
        workers = self.stream.concurrency
        # A task that lost every subtask is listed by nothing: its orphans
        # must be looked up even when nothing else is to be read.
        look_up = look_up | self._orphans()
        while to_list or look_up:
            while to_list:
                level, to_list = to_list, {}
                for parent in level:
                    self.fresh_children.setdefault(parent, set())
                for parent, child in merge_parallel(self._list, list(level), workers):
                    if child is None:   # deleted meanwhile: its subtasks went with it
                        self.gone.add(parent)
                        self._drop(parent)
                    else:
                        self.placed.add(child["gid"])
                        self.fresh_children[parent].add(child["gid"])
                        yield from self._upsert(child, parent, level[parent], to_list)
                look_up |= self._orphans() | self._recount()
            look_up -= self.placed | self.looked_up
            batch, look_up = sorted(look_up), set()
            self.looked_up.update(batch)
            for gid, record in merge_parallel(self._look_up, batch, workers):
                parent_gid = _parent_gid(record)
                if record is not None and parent_gid:
                    self.placed.add(gid)
                    yield from self._upsert(record, parent_gid, False, to_list)
                    continue
                self._drop(gid)   # deleted, out of the token's sight, or no longer a subtask
            look_up |= self._orphans() | self._recount()

    def _list(self, parent_gid: str) -> Iterator[tuple[str, dict | None]]:
        try:
            for child in self.listings.listing(f"/tasks/{parent_gid}/subtasks", opt_fields=self.stream.fields):
                yield parent_gid, child
        except (NotFound, Forbidden):
            yield parent_gid, None

    def _look_up(self, gid: str) -> Iterator[tuple[str, dict | None]]:
        # Fresh: the tasks stream may have looked it up before this run's
        # events were read; a change in between is in no later run's events.
        yield gid, self.listings.look_up_task(gid, self.stream.fields, fresh=True)

    def _upsert(self, record: dict, parent: str, force: bool, to_list: dict[str, bool]) -> Iterator[dict]:
        """A subtask read now: into the tree; out as a record if the table
        has it otherwise; its own subtasks listed if they may have changed."""
        gid = record["gid"]
        count = record.get("num_subtasks")
        count = count if isinstance(count, int) else 0
        digest = children_digest(record)
        known = self.tree.nodes.get(gid)
        node = self.tree.nodes[gid] = Node(parent, fingerprint(record), digest)
        if known is None or known.parent != parent:   # it arrived: its parent shows one subtask more
            self.count_changed.add(parent)
            if known is not None:
                self.count_changed.add(known.parent)
        if count and gid not in self.fresh_children and (force or known is None or known.children != digest):
            to_list[gid] = force or to_list.get(gid, False)
        elif not count and self.previous_children.get(gid):
            self.fresh_children.setdefault(gid, set())   # it lost every subtask it had
        # Sent when it differs from the row (once: a subtask read twice in a
        # run, unchanged, is sent once); a subtask new to the tree always is.
        if known != node:
            yield record

    def _orphans(self) -> set[str]:
        """Subtasks a task read this run had and no longer has: moved,
        un-nested or deleted, to be looked up unless found elsewhere."""
        out: set[str] = set()
        for parent, kept in self.fresh_children.items():
            if parent not in self.orphans_checked and parent not in self.gone:
                self.orphans_checked.add(parent)
                out.update(gid for gid in self.previous_children.get(parent, ()) if gid not in kept)
        return out - self.placed - self.looked_up

    def _drop(self, gid: str) -> None:
        node = self.tree.nodes.get(gid)
        if node is not None and node.parent != ROOT:
            del self.tree.nodes[gid]
            self.dropped[gid] = node
            self.count_changed.add(node.parent)   # it shows one subtask fewer

    def _recount(self) -> set[str]:
        """Subtasks that got or lost a subtask this run and were not read
        since: their `num_subtasks` moved (a project task's is in the index)."""
        out = set()
        for gid in self.count_changed:
            node = self.tree.nodes.get(gid)
            if node is not None and node.parent not in (ROOT, GONE):
                out.add(gid)
        self.count_changed.clear()
        return out - self.placed - self.looked_up

    # The tree it leaves ----------------------------------------------------------
    def _finish(self, index: dict[str, IndexedTask]) -> Iterator[dict]:
        self.previous_children = {}
        in_table = self.tree.reachable(index)
        left = {gid: node for gid, node in self.dropped.items() if gid not in self.tree.nodes}
        for gid in self.tree.subtasks() - in_table:
            left[gid] = self.tree.nodes.pop(gid)
        declared = self.stream._tombstones_declared
        for gid in sorted(left):
            if declared:
                yield task_tombstone(gid)
            else:   # kept, unreachable, until a catalog allows the removal
                self.tree.nodes[gid] = Node(GONE, left[gid].fingerprint, left[gid].children)
        for gid, node in list(self.tree.nodes.items()):   # project tasks with subtasks: their digest
            entry = index.get(gid)
            if node.parent == ROOT and (entry is None or not entry.num_subtasks):
                del self.tree.nodes[gid]
        for gid, entry in index.items():
            if entry.num_subtasks and (gid not in self.tree.nodes or self.tree.nodes[gid].parent == ROOT):
                self.tree.nodes[gid] = Node(ROOT, "-", entry.children)
