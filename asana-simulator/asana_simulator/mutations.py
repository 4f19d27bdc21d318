"""Changes to the simulated workspace (tests, benchmarks and /_sim/mutate
make them), following Asana's documented modified_at rules: property edits
and new stories bump modified_at to now; adding a task to a project,
removing it from one, moving it, or giving it another parent task ("moving
to a new container") only bumps the internal association_changed_at, which
makes the task match modified_since without moving its modified_at. Adding,
editing or removing a subtask leaves its parent's modified_at alone (the
parent is not among what Asana says modifies a task).

Each mutation also records the events Asana's Events API would deliver
(events.py), on the streams that carry them at that moment.
"""
from __future__ import annotations

from . import records
from .models import Story, Task
from .timeutil import DAY_MS, fmt_ts, parse_ts_ms

# Fields whose new value a "changed" event carries as it was set.
_SCALAR_CHANGES = {"name", "notes", "completed", "due_on", "due_at", "start_on", "resource_subtype",
                   "approval_status"}
_TASK_EDITABLE = {"name", "notes", "completed", "assignee", "due_on", "due_at", "start_on",
                  "resource_subtype", "approval_status", "tags", "followers", "custom_fields",
                  "section"}


class Mutations:
    """The write side of Store, mixed into it: each public method holds the
    store's lock and works on its objects, gids and clock."""

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

    def _streams_of(self, t, levels_up: int = 1) -> set:
        """Whose event streams carry an event about task t now: its own, its
        projects', its parent's and the parent's projects' (events bubble up
        one level), and every further ancestor's with bubble_all_levels.
        levels_up=0 for an event one level below t (a story on it): t's own
        streams only, unless with bubble_all_levels."""
        out = {t.gid, *(p.gid for p in t.projects())}
        ancestor, depth = t.parent, 1
        while ancestor is not None and (depth <= levels_up or self.events.bubble_all_levels):
            out.add(ancestor.gid)
            out.update(p.gid for p in ancestor.projects())
            ancestor, depth = ancestor.parent, depth + 1
        return out

    def _event(self, action, resource, streams, parent=None, change=None) -> None:
        body = {"user": records.c_user(self.viewer), "created_at": fmt_ts(self.now_ms()),
                "action": action, "resource": resource,
                "parent": parent, "type": resource["resource_type"]}
        if change is not None:
            body["change"] = change
        self.events.record(body, streams)

    def _task_event(self, action, t, parent=None, change=None, streams=None) -> None:
        ref = {"gid": t.gid, "resource_type": "task", "name": t.name}
        self._event(action, ref, self._streams_of(t) if streams is None else streams,
                    parent, change)

    @staticmethod
    def _ref(o, resource_type):
        return {"gid": o.gid, "resource_type": resource_type, "name": o.name}

    def _add_system_story(self, t, subtype, text, now, **extra):
        st = Story(self.new_gid(), t, now, subtype, self.viewer, text, extra)
        st.source = "api"
        self.register_story(st)

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
            for name in fields:
                change = {"field": "memberships" if name == "section" else name, "action": "changed"}
                if name in _SCALAR_CHANGES:
                    change["new_value"] = fields[name]
                self._task_event("changed", t, change=change)
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
            return self._create_task(p.workspace, name, fields, project=(p, sec))

    def _create_task(self, workspace, name, fields, project=None, parent=None) -> str:
        """A new task in a project or under a parent task, with its `added`
        event; edit fields set at creation are one event with it."""
        t = Task(self.new_gid(), self.next_task_idx(), workspace, name)
        t.created_at = t.modified_at = t.association_changed_at = self.now_ms()
        t.created_by = self.viewer
        t.notes = ""
        t.stories = []
        if project is not None:
            t.memberships.append(project)
            project[0].tasks.append(t)
        if parent is not None:
            t.parent = parent
            parent.children.append(t)
        self.register_task(t)
        where = self._ref(project[0], "project") if project is not None else self._ref(parent, "task")
        self._task_event("added", t, parent=where)
        if fields:
            self.edit_task(t.gid, **fields)
            # Creation is one event: keep created_at == modified_at.
            t.created_at = t.association_changed_at = t.modified_at
            for st in t.stories:
                st.created_at = t.modified_at
        return t.gid

    def delete_task(self, gid: str) -> None:
        """Trash a task and, as Asana does, its subtasks at every level: gone
        from every listing and 404 afterwards (their stories with them). One
        `deleted` event, for the task itself."""
        with self.lock:
            t = self._task(gid)
            self._task_event("deleted", t)
            self._trash(t, self.now_ms())

    def _trash(self, t, now) -> None:
        pending = [t]
        while pending:
            x = pending.pop()
            if x.deleted:
                continue
            x.deleted = True
            x.trashed_with = t.gid
            x.modified_at = now
            for p, _ in x.memberships:
                p.tasks = [y for y in p.tasks if y is not x]
            pending.extend(x.children)

    def undelete_task(self, gid: str) -> None:
        """Restore a trashed task from the trash, with what was trashed with
        it (its subtasks), into the projects it was in that still exist."""
        with self.lock:
            t = self._by["tasks"].get(gid)
            if t is None or not t.deleted:
                raise KeyError(f"no trashed task {gid}")
            if t.trashed_with != t.gid:
                raise ValueError(f"task {gid} went with task {t.trashed_with}: restore that one")
            now = self.now_ms()
            pending = [t]
            while pending:
                x = pending.pop()
                if not (x.deleted and x.trashed_with == t.gid):
                    continue
                x.deleted = False
                x.trashed_with = None
                x.memberships = [(p, sec) for p, sec in x.memberships if not p.deleted]
                for p, _ in x.memberships:
                    p.tasks.append(x)
                x.modified_at = now
                pending.extend(x.children)
            self._task_event("undeleted", t)

    def add_subtask(self, parent_gid: str, name: str = "New subtask", **fields) -> str:
        """Create a subtask, last under its parent (a task or a subtask), in no
        project. The parent's modified_at stays as it was."""
        with self.lock:
            parent = self._task(parent_gid)
            return self._create_task(parent.workspace, name, fields, parent=parent)

    def set_parent(self, gid: str, parent_gid: str | None = None) -> None:
        """Make a task a subtask of another (at the end of its subtasks), or,
        with parent_gid None, a task of its own again. Moving to a new
        container: association_changed_at moves, modified_at (its own and
        both parents') does not."""
        with self.lock:
            t = self._task(gid)
            parent = None if parent_gid is None else self._task(parent_gid)
            if parent is t.parent:
                return
            if parent is not None:
                if parent.workspace is not t.workspace:
                    raise ValueError("parent: the parent task is in another workspace")
                ancestor = parent
                while ancestor is not None:
                    if ancestor is t:
                        raise ValueError("parent: a task cannot be a subtask of itself or of its subtasks")
                    ancestor = ancestor.parent
            old = t.parent
            if old is not None:
                self._task_event("removed", t, parent=self._ref(old, "task"))
                old.children = [c for c in old.children if c is not t]
            t.parent = parent
            t.association_changed_at = self.now_ms()
            if parent is not None:
                parent.children.append(t)
                self._task_event("added", t, parent=self._ref(parent, "task"))

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
            self._task_event("added", t, parent=self._ref(p, "project"))

    def remove_task_from_project(self, gid: str, project_gid: str):
        with self.lock:
            t = self._task(gid)
            p = self._project(project_gid)
            if any(q is p for q, _ in t.memberships):
                self._task_event("removed", t, parent=self._ref(p, "project"))
            t.memberships = [(q, s) for q, s in t.memberships if q is not p]
            p.tasks = [x for x in p.tasks if x is not t]
            t.association_changed_at = self.now_ms()

    def move_task(self, gid: str, to_project_gid: str, section_gid: str | None = None):
        """Remove a task from all its projects and put it in another one."""
        with self.lock:
            t = self._task(gid)
            p = self._project(to_project_gid)
            for q, _ in t.memberships:
                if q is not p:
                    self._task_event("removed", t, parent=self._ref(q, "project"))
                q.tasks = [x for x in q.tasks if x is not t]
            stayed = any(q is p for q, _ in t.memberships)
            sec = self.get("sections", section_gid) if section_gid else p.sections[0]
            t.memberships = [(p, sec)]
            p.tasks.append(t)
            t.association_changed_at = self.now_ms()
            if not stayed:
                self._task_event("added", t, parent=self._ref(p, "project"))

    def add_story(self, task_gid: str, text: str, author_gid: str | None = None) -> str:
        """Add a comment; like Asana, the new story bumps the task's modified_at."""
        with self.lock:
            t = self._task(task_gid)
            now = self.now_ms()
            st = Story(self.new_gid(), t, now, "comment_added",
                       self._user(author_gid) if author_gid else self.viewer, text)
            st.source = "api"
            self.register_story(st)
            t.modified_at = now
            self._story_event("added", st, parent=self._ref(t, "task"))
            return st.gid

    def _story_event(self, action, st, parent=None) -> None:
        # A story is a level below its task: a project's stream carries the
        # stories on its tasks, not those on their subtasks (two levels down).
        ref = {"gid": st.gid, "resource_type": "story", "name": st.text}
        self._event(action, ref, self._streams_of(st.task, levels_up=0), parent)

    def delete_story(self, gid: str) -> None:
        with self.lock:
            st = self.get("stories", gid)
            if st is None:
                raise KeyError(f"unknown story {gid}")
            st.deleted = True
            st.task.modified_at = self.now_ms()
            # Asana's `deleted` events carry no parent: nothing names the task.
            self._story_event("deleted", st)

    def delete_user(self, gid: str) -> None:
        """Remove a user from the domain. References on tasks stay (as in
        Asana, where deprovisioned users still appear on old work)."""
        with self.lock:
            self._user(gid).deleted = True

    def delete_project(self, gid: str) -> None:
        """Delete a project; tasks only in it are deleted too (with their
        subtasks), multi-homed tasks just lose the membership (an
        association change). One `deleted` event, for the project."""
        with self.lock:
            p = self._project(gid)
            self._event("deleted", self._ref(p, "project"), {p.gid})
            p.deleted = True
            now = self.now_ms()
            for t in list(p.tasks):
                if t.deleted:
                    continue
                self.stories_of_task(t)
                t.memberships = [(q, s) for q, s in t.memberships if q is not p]
                if t.memberships:
                    t.association_changed_at = now
                else:
                    self._trash(t, now)
            p.tasks = []

    def set_project_archived(self, gid: str, archived: bool = True) -> None:
        with self.lock:
            p = self._project(gid)
            p.archived = bool(archived)
            p.modified_at = self.now_ms()
            self._event("changed", self._ref(p, "project"), {p.gid},
                        change={"field": "archived", "action": "changed", "new_value": p.archived})

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
            if resource in ("projects", "sections"):
                project = o if resource == "projects" else o.project
                self._event("changed", self._ref(o, resource[:-1]), {project.gid},
                            change={"field": "name", "action": "changed", "new_value": name})
