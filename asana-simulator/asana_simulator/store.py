"""The in-memory store of the simulated Asana domain: every object by gid,
gid allocation and the mutation clock, lookups, the queries listings use, and
the "truth" API tests read (full records, gids, counts).

All access goes through one re-entrant lock so HTTP handler threads and test
mutations see consistent state. The rest of the domain lives next door:
generator.py creates the objects (models.py), story_generation.py and
derived_values.py derive the rest lazily, mutations.py changes them
(its Mutations is mixed into Store), records.py renders them.
"""
from __future__ import annotations

import threading
import time

from . import records
from .events import EventLog
from .generator import WorkspaceSpec, generate
from .gids import first_eager_gid, story_task_idx
from .models import Section
from .mutations import Mutations
from .story_generation import generate_stories
from .timeutil import DAY_MS, parse_ts_ms

KINDS = ("workspaces", "teams", "users", "projects", "sections", "tags", "tasks", "stories")


class Store(Mutations):
    """Every object of the simulated Asana domain, by gid, and the reads over them."""

    def __init__(self, spec: WorkspaceSpec | None = None, clock=None, events: EventLog | None = None):
        self.spec = spec or WorkspaceSpec()
        self.events = events if events is not None else EventLog()   # what GET /events reads
        self.seed = self.spec.seed
        self.anchor_ms = parse_ts_ms(self.spec.anchor)
        self.lock = threading.RLock()
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._last_now = self.anchor_ms
        self._gid_next = first_eager_gid(self.seed)
        self._task_idx = 0
        self.workspaces = []
        self.org = None
        self.personal = None
        self.viewer = None
        self.users = []        # ordered by gid (generation order)
        self.teams = []
        self.projects = []
        self.tags = []
        self.custom_fields = []
        self.tasks = []        # every task ever created, including deleted ones
        self._by = {k: {} for k in KINDS}
        self._my_tasks_sections = None
        generate(self, self.spec)
        self.generated_task_count = len(self.tasks)

    # --- registration (used by the generator and the mutations) -------------
    def new_gid(self) -> str:
        g = self._gid_next
        self._gid_next += 1
        return str(g)

    def next_task_idx(self) -> int:
        i = self._task_idx
        self._task_idx += 1
        return i

    def register_workspace(self, w):
        self.workspaces.append(w)
        self._by["workspaces"][w.gid] = w
        if w.is_organization and self.org is None:
            self.org = w
        elif not w.is_organization and self.personal is None:
            self.personal = w

    def register_user(self, u):
        self.users.append(u)
        self._by["users"][u.gid] = u

    def register_team(self, t):
        self.teams.append(t)
        t.workspace.teams.append(t)
        self._by["teams"][t.gid] = t

    def register_custom_field(self, cf):
        self.custom_fields.append(cf)
        cf.workspace.custom_fields.append(cf)

    def register_tag(self, t):
        self.tags.append(t)
        t.workspace.tags.append(t)
        self._by["tags"][t.gid] = t

    def register_project(self, p):
        self.projects.append(p)
        p.workspace.projects.append(p)
        self._by["projects"][p.gid] = p
        for s in p.sections:
            self._by["sections"][s.gid] = s

    def register_task(self, t):
        self.tasks.append(t)
        self._by["tasks"][t.gid] = t

    def register_story(self, st):
        """A story made by a mutation (generated ones are found by their gid)."""
        self._by["stories"][st.gid] = st
        st.task.stories.append(st)

    # --- time -----------------------------------------------------------
    def now_ms(self) -> int:
        """Strictly increasing 'now' for mutations, never before the anchor."""
        with self.lock:
            n = max(self._clock(), self._last_now + 1)
            self._last_now = n
            return n

    # --- lookups ----------------------------------------------------------
    def get(self, kind: str, gid: str):
        """Live object by gid, or None (deleted objects are not found)."""
        if kind == "stories":
            return self._find_story(gid)
        o = self._by[kind].get(gid)
        if o is None or getattr(o, "deleted", False):
            return None
        return o

    def _find_story(self, gid):
        o = self._by["stories"].get(gid)
        if o is not None:
            return None if o.deleted or o.task.deleted else o
        # Generated stories have gids derived from their task's index.
        idx = story_task_idx(self.seed, gid)
        if idx is None or idx >= len(self.tasks):
            return None
        t = self.tasks[idx]
        if t.deleted:
            return None
        for st in self.stories_of_task(t):
            if st.gid == gid:
                return st
        return None

    # --- lazily derived objects ------------------------------------------
    def my_tasks_sections(self):
        if self._my_tasks_sections is None:
            # The viewer's "My tasks" list sections: real objects, but not in
            # any project, so no project listing returns them.
            self._my_tasks_sections = [
                Section(self.new_gid(), i, None, n, self.anchor_ms - 400 * DAY_MS)
                for i, n in enumerate(("Recently assigned", "Do today", "Do next week",
                                       "Do later"))]
        return self._my_tasks_sections

    def stories_of_task(self, t):
        """Stories of a task (generated on first access, deterministic)."""
        if t.stories is None:
            with self.lock:
                if t.stories is None:
                    t.stories = generate_stories(self, t)
        return t.stories

    # --- queries --------------------------------------------------------------
    def workspace_obj(self, gid):
        return self.get("workspaces", gid)

    def live_projects(self, workspace=None):
        return [p for p in self.projects if not p.deleted
                and (workspace is None or p.workspace is workspace)]

    def live_tasks_of_project(self, p):
        return [t for t in p.tasks if not t.deleted]

    def live_subtasks(self, t):
        return [c for c in t.children if not c.deleted]

    def live_stories(self, t):
        return [s for s in self.stories_of_task(t) if not s.deleted]

    def live_users(self):
        return [u for u in self.users if not u.deleted]

    # --- public "truth" API for tests -------------------------------------
    def records(self, resource: str, workspace_gid: str | None = None, **filters):
        """Full records (every field, opt-in included) of live objects."""
        with self.lock:
            objs = self._objects(resource, workspace_gid, **filters)
            return [records.build(self, resource, o) for o in objs]

    def record(self, resource: str, gid: str):
        with self.lock:
            o = self.get(resource, gid)
            return None if o is None else records.build(self, resource, o)

    def _objects(self, resource, workspace_gid=None, project_gid=None, task_gid=None):
        ws = self.workspace_obj(workspace_gid) if workspace_gid else None
        if workspace_gid and ws is None:
            raise KeyError(f"unknown workspace {workspace_gid}")
        if resource == "workspaces":
            return [w for w in self.workspaces if ws is None or w is ws]
        if resource == "users":
            return self.live_users()
        if resource == "teams":
            return [t for t in self.teams if not t.deleted and (ws is None or t.workspace is ws)]
        if resource == "projects":
            return self.live_projects(ws)
        if resource == "tags":
            return [t for t in self.tags if not t.deleted and (ws is None or t.workspace is ws)]
        if resource == "sections":
            ps = [self.get("projects", project_gid)] if project_gid else self.live_projects(ws)
            return [s for p in ps if p for s in p.sections if not s.deleted]
        if resource == "tasks":
            if project_gid:
                return self.live_tasks_of_project(self.get("projects", project_gid))
            if task_gid:   # a task's subtasks
                return self.live_subtasks(self.get("tasks", task_gid))
            return [t for t in self.tasks if not t.deleted and (ws is None or t.workspace is ws)]
        if resource == "stories":
            if task_gid:
                return self.live_stories(self.get("tasks", task_gid))
            return [s for t in self.tasks if not t.deleted
                    and (ws is None or t.workspace is ws) for s in self.live_stories(t)]
        raise KeyError(f"unknown resource {resource}")

    def tasks_in_project(self, project_gid: str):
        return self.records("tasks", project_gid=project_gid)

    def stories_of(self, task_gid: str):
        return self.records("stories", task_gid=task_gid)

    def subtasks_of(self, task_gid: str):
        return self.records("tasks", task_gid=task_gid)

    def subtask_gids(self, workspace_gid: str | None = None) -> set[str]:
        """Every subtask, at every level, of the tasks in the workspace's
        projects: what a walk of GET /tasks/{gid}/subtasks from each project
        task reaches."""
        with self.lock:
            ws = self.workspace_obj(workspace_gid) if workspace_gid else None
            pending = [t for p in self.live_projects(ws) for t in self.live_tasks_of_project(p)]
            seen: set[str] = set()
            while pending:
                for c in self.live_subtasks(pending.pop()):
                    if c.gid not in seen:
                        seen.add(c.gid)
                        pending.append(c)
            return seen

    def gids(self, resource: str, workspace_gid: str | None = None, **filters):
        with self.lock:
            return [o.gid for o in self._objects(resource, workspace_gid, **filters)]

    def counts(self):
        with self.lock:
            return {
                "workspaces": len(self.workspaces),
                "users": len(self.live_users()),
                "teams": sum(1 for t in self.teams if not t.deleted),
                "projects": len(self.live_projects()),
                "tags": sum(1 for t in self.tags if not t.deleted),
                "tasks": sum(1 for t in self.tasks if not t.deleted),
            }
