"""The simulated Asana domain: objects, queries, mutations.

All access goes through one re-entrant lock so HTTP handler threads and test
mutations see consistent state. Mutations follow Asana's documented
modified_at rules: property edits and new stories bump modified_at; adding a task
to a project only bumps the internal association_changed_at, which makes the
task match modified_since without moving its modified_at.
"""
from __future__ import annotations

import threading
import time

from . import records
from .generator import WorkspaceSpec, generate
from .gids import first_eager_gid, story_task_idx
from .models import Section, Story, Task
from .story_generation import generate_stories
from .timeutil import DAY_MS, parse_ts_ms

KINDS = ("workspaces", "teams", "users", "projects", "sections", "tags", "tasks", "stories")

_TASK_EDITABLE = {"name", "notes", "completed", "assignee", "due_on", "due_at", "start_on",
                  "resource_subtype", "approval_status", "tags", "followers", "custom_fields",
                  "section"}


class Store:
    def __init__(self, spec: WorkspaceSpec | None = None, clock=None):
        self.spec = spec or WorkspaceSpec()
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

    # --- registration (used by the generator) -------------------------------
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

    # --- mutations ------------------------------------------------------------
    def _task(self, gid):
        t = self.get("tasks", gid)
        if t is None:
            raise KeyError(f"unknown task {gid}")
        # Materialize generated stories before changing the task, so they are
        # the same whether or not anyone read them before the edit.
        self.stories_of_task(t)
        return t

    def _project(self, gid):
        p = self.get("projects", gid)
        if p is None:
            raise KeyError(f"unknown project {gid}")
        return p

    def _user(self, gid):
        if gid is None:
            return None
        u = self.get("users", gid)
        if u is None:
            raise KeyError(f"unknown user {gid}")
        return u

    def _add_system_story(self, t, subtype, text, now, **extra):
        st = Story(self.new_gid(), t, now, subtype, self.viewer, text, extra)
        st.source = "api"
        self._by["stories"][st.gid] = st
        t.stories.append(st)

    def edit_task(self, gid: str, **fields) -> dict:
        """Change task properties; bumps modified_at to now (and adds the
        system stories Asana would). custom_fields={cf_gid: value}, where enum
        values are option gids, people values user gids, dates 'YYYY-MM-DD'."""
        unknown = set(fields) - _TASK_EDITABLE
        if unknown:
            raise ValueError(f"cannot edit task fields {sorted(unknown)}")
        with self.lock:
            t = self._task(gid)
            now = self.now_ms()
            if "name" in fields:
                old = t.name
                t.name = str(fields["name"])
                self._add_system_story(t, "name_changed", f'changed the name to "{t.name}"', now,
                                       old_name=old, new_name=t.name)
            if "notes" in fields:
                t.notes = str(fields["notes"])
                self._add_system_story(t, "notes_changed", "changed the description", now)
            if "assignee" in fields:
                t.assignee = self._user(fields["assignee"])
                t.assigned_by = self.viewer if t.assignee else None
                if t.assignee:
                    self._add_system_story(t, "assigned", f"assigned to {t.assignee.name}", now,
                                           assignee=t.assignee)
                else:
                    self._add_system_story(t, "unassigned", "unassigned", now)
            if "completed" in fields:
                t.completed = bool(fields["completed"])
                t.completed_at = now if t.completed else None
                t.completed_by = self.viewer if t.completed else None
                self._add_system_story(
                    t, "marked_complete" if t.completed else "marked_incomplete",
                    "marked this task complete" if t.completed else "marked incomplete", now)
            for key in ("due_on", "start_on"):
                if key in fields:
                    v = fields[key]
                    setattr(t, key, None if v is None else parse_ts_ms(v + "T00:00:00Z") // DAY_MS)
            if "due_at" in fields:
                v = fields["due_at"]
                t.due_at = None if v is None else parse_ts_ms(v)
                t.due_on = None if v is None else t.due_at // DAY_MS
            if "resource_subtype" in fields:
                t.subtype = fields["resource_subtype"]
                if t.subtype == "approval" and t.approval_status is None:
                    t.approval_status = "pending"
            if "approval_status" in fields:
                t.approval_status = fields["approval_status"]
            if "tags" in fields:
                t.tags = tuple(self.get("tags", g) for g in fields["tags"])
            if "followers" in fields:
                t.followers = tuple(self._user(g) for g in fields["followers"])
            if "custom_fields" in fields:
                t.cf_overrides = dict(t.cf_overrides or {})
                for cf_gid, v in fields["custom_fields"].items():
                    cf = next((c for c in self.custom_fields if c.gid == cf_gid), None)
                    if cf is None:
                        raise KeyError(f"unknown custom field {cf_gid}")
                    t.cf_overrides[cf_gid] = self._cf_from_wire(cf, v)
            if "section" in fields:
                sec = self.get("sections", fields["section"])
                t.memberships = [(p, sec if p is sec.project else s) for p, s in t.memberships]
            t.modified_at = now
            return records.build(self, "tasks", t)

    def _cf_from_wire(self, cf, v):
        if v is None:
            return None
        st = cf.subtype
        if st == "enum":
            return next(o for o in cf.options if o.gid == v)
        if st == "multi_enum":
            return [o for o in cf.options if o.gid in v]
        if st == "people":
            return [self._user(g) for g in v]
        if st == "date":
            return parse_ts_ms(v + "T00:00:00Z") // DAY_MS
        if st == "number":
            return float(v) if cf.precision else int(v)
        return str(v)

    def add_task(self, project_gid: str, name: str = "New task", section_gid: str | None = None,
                 **fields) -> str:
        """Create a task at the end of a project (first section by default)."""
        with self.lock:
            p = self._project(project_gid)
            sec = self.get("sections", section_gid) if section_gid else p.sections[0]
            now = self.now_ms()
            t = Task(self.new_gid(), self.next_task_idx(), p.workspace, name)
            t.created_at = t.modified_at = t.association_changed_at = now
            t.created_by = self.viewer
            t.notes = ""
            t.memberships.append((p, sec))
            t.stories = []
            p.tasks.append(t)
            self.register_task(t)
            if fields:
                self.edit_task(t.gid, **fields)
                # Creation is one event: keep created_at == modified_at.
                t.created_at = t.association_changed_at = t.modified_at
                for st in t.stories:
                    st.created_at = t.modified_at
            return t.gid

    def delete_task(self, gid: str) -> None:
        """Trash a task and, as Asana does, its subtasks at every level: gone
        from every listing and 404 afterwards (their stories with them)."""
        with self.lock:
            now = self.now_ms()
            pending = [self._task(gid)]
            while pending:
                t = pending.pop()
                if t.deleted:
                    continue
                t.deleted = True
                t.modified_at = now
                for p, _ in t.memberships:
                    p.tasks = [x for x in p.tasks if x is not t]
                pending.extend(t.children)

    def add_task_to_project(self, gid: str, project_gid: str, section_gid: str | None = None):
        """Multi-home a task. Association change only: modified_at is unchanged."""
        with self.lock:
            t = self._task(gid)
            p = self._project(project_gid)
            if any(q is p for q, _ in t.memberships):
                return
            sec = self.get("sections", section_gid) if section_gid else p.sections[0]
            t.memberships.append((p, sec))
            p.tasks.append(t)
            t.association_changed_at = self.now_ms()

    def remove_task_from_project(self, gid: str, project_gid: str):
        with self.lock:
            t = self._task(gid)
            p = self._project(project_gid)
            t.memberships = [(q, s) for q, s in t.memberships if q is not p]
            p.tasks = [x for x in p.tasks if x is not t]
            t.association_changed_at = self.now_ms()

    def move_task(self, gid: str, to_project_gid: str, section_gid: str | None = None):
        """Remove a task from all its projects and put it in another one."""
        with self.lock:
            t = self._task(gid)
            p = self._project(to_project_gid)
            for q, _ in t.memberships:
                q.tasks = [x for x in q.tasks if x is not t]
            sec = self.get("sections", section_gid) if section_gid else p.sections[0]
            t.memberships = [(p, sec)]
            p.tasks.append(t)
            t.association_changed_at = self.now_ms()

    def add_story(self, task_gid: str, text: str, author_gid: str | None = None) -> str:
        """Add a comment; like Asana, the new story bumps the task's modified_at."""
        with self.lock:
            t = self._task(task_gid)
            now = self.now_ms()
            st = Story(self.new_gid(), t, now, "comment_added",
                       self._user(author_gid) if author_gid else self.viewer, text)
            st.source = "api"
            self._by["stories"][st.gid] = st
            t.stories.append(st)
            t.modified_at = now
            return st.gid

    def delete_story(self, gid: str) -> None:
        with self.lock:
            st = self.get("stories", gid)
            if st is None:
                raise KeyError(f"unknown story {gid}")
            st.deleted = True
            st.task.modified_at = self.now_ms()

    def delete_user(self, gid: str) -> None:
        """Remove a user from the domain. References on tasks stay (as in
        Asana, where deprovisioned users still appear on old work)."""
        with self.lock:
            self._user(gid).deleted = True

    def delete_project(self, gid: str) -> None:
        """Delete a project; tasks only in it are deleted too, multi-homed
        tasks just lose the membership (an association change)."""
        with self.lock:
            p = self._project(gid)
            p.deleted = True
            now = self.now_ms()
            for t in p.tasks:
                if t.deleted:
                    continue
                self.stories_of_task(t)
                t.memberships = [(q, s) for q, s in t.memberships if q is not p]
                if t.memberships:
                    t.association_changed_at = now
                else:
                    t.deleted = True
                    t.modified_at = now
            p.tasks = []

    def set_project_archived(self, gid: str, archived: bool = True) -> None:
        with self.lock:
            p = self._project(gid)
            p.archived = bool(archived)
            p.modified_at = self.now_ms()

    def rename(self, resource: str, gid: str, name: str) -> None:
        """Rename any named object; bumps modified_at where the type has one."""
        with self.lock:
            if resource == "tasks":
                self.edit_task(gid, name=name)
                return
            o = self.get(resource, gid)
            if o is None:
                raise KeyError(f"unknown {resource} {gid}")
            o.name = name
            if resource == "projects":
                o.modified_at = self.now_ms()

