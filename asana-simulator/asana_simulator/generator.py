"""Seeded workspace generation.

Same WorkspaceSpec (seed + sizes) gives byte-identical data: all randomness
comes from one random.Random(seed) consumed in a fixed order, or from mix()
hashes of (seed, index) for lazily derived values, and timestamps are relative
to a fixed anchor instant rather than the wall clock.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from . import content as C
from .models import CustomField, EnumOption, Project, Section, Tag, Task, Team, User, Workspace
from .timeutil import DAY_MS, parse_ts_ms


@dataclass(frozen=True)
class WorkspaceSpec:
    projects: int = 5
    tasks_per_project: int = 20
    users: int = 25
    tags: int = 8
    teams: int = 3
    stories_per_task: tuple[int, int] = (0, 4)
    sections_per_project: int = 3
    archived_fraction: float = 0.2
    multi_homed_fraction: float = 0.1
    subtask_fraction: float = 0.1
    # The chance that a generated subtask goes under an earlier subtask
    # (several levels deep) rather than under a project task.
    subtask_nesting: float = 0.2
    # The share of project tasks that may get subtasks: below 1, subtasks
    # cluster (a few subtasks each under fewer tasks, as teams use them).
    subtask_parent_share: float = 1.0
    personal_projects: int = 2
    personal_tasks_per_project: int = 3
    seed: int = 1
    # All generated instants are <= anchor, which is in the past, so data is
    # identical run to run while mutations (stamped with the real clock) are
    # always newer than anything generated.
    anchor: str = "2026-01-01T00:00:00.000Z"
    history_days: int = 730

    def __post_init__(self):
        lo, hi = self.stories_per_task
        if not (0 <= lo <= hi <= 60):
            raise ValueError("stories_per_task must be (min, max) with 0 <= min <= max <= 60")
        if self.projects < 1 or self.users < 1 or self.sections_per_project < 1:
            raise ValueError("projects, users and sections_per_project must be >= 1")
        if self.teams < 1:
            raise ValueError("the organization needs at least one team")
        if parse_ts_ms(self.anchor) is None:
            raise ValueError("anchor must be an ISO-8601 instant with a zone")
        if not (0 <= self.subtask_nesting <= 1 and 0 < self.subtask_parent_share <= 1):
            raise ValueError("subtask_nesting must be within [0, 1], subtask_parent_share within (0, 1]")


def _uniq_name(pool, i):
    base = pool[i % len(pool)]
    rnd = i // len(pool)
    return base if rnd == 0 else f"{base} {rnd + 1}"


def generate(store, spec: WorkspaceSpec) -> None:
    """Populate an empty Store according to spec."""
    rng = random.Random(spec.seed)
    anchor = parse_ts_ms(spec.anchor)
    span = spec.history_days * DAY_MS
    start = anchor - span
    gid = store.new_gid

    org = Workspace(gid(), "Acme Corp 🌐", True, ["example.com", "acme.example"])
    personal = Workspace(gid(), "Personal Projects", False, [])
    store.register_workspace(org)
    store.register_workspace(personal)

    # users -------------------------------------------------------------
    users = []
    for i in range(spec.users):
        first = C.FIRST_NAMES[i % len(C.FIRST_NAMES)]
        last = C.LAST_NAMES[(i * 7 + i // len(C.FIRST_NAMES)) % len(C.LAST_NAMES)]
        u = User(gid(), i, f"{first} {last}", f"user{i:05d}@example.com", rng.random() < 0.7)
        users.append(u)
        store.register_user(u)
    store.viewer = users[0]

    def pick_users(k):
        k = min(k, len(users))
        return rng.sample(users, k) if k else []

    # teams -------------------------------------------------------------
    levels_pool = ("all_team_members", "only_team_admins")
    for i in range(spec.teams):
        levels = tuple(levels_pool[rng.random() < 0.3] for _ in range(6)) + (
            ("no_restriction", "only_team_admins")[rng.random() < 0.3],)
        t = Team(gid(), i, _uniq_name(C.TEAM_NAMES, i), org,
                 f"The {_uniq_name(C.TEAM_NAMES, i)} team.\nWe own things.",
                 rng.choice(("secret", "request_to_join", "public")), rng.random() < 0.2, levels)
        store.register_team(t)
    for u in users:
        for t in rng.sample(org.teams, min(len(org.teams), 1 + rng.randrange(2))):
            u.teams.append(t)
    # keep each user's team list in team order regardless of sampling order
    for u in users:
        u.teams.sort(key=lambda t: t.idx)

    # custom fields (organization only; custom fields are a premium feature) ---
    cf_specs = [
        ("Priority", "enum", dict(options=["High 🔴", "Medium", "Low"])),
        ("Estimate (h)", "number", dict(precision=1)),
        ("Budget", "number", dict(precision=2, format="currency", currency_code="EUR")),
        ("Labels", "multi_enum", dict(options=["frontend", "backend", "ドキュメント", "ops"])),
        ("Reference ✍️", "text", {}),
        ("Launch date", "date", {}),
        ("Reviewers", "people", {}),
    ]
    for i, (name, subtype, kw) in enumerate(cf_specs):
        opts = [EnumOption(gid(), o, C.ENUM_COLORS[(i * 3 + j) % len(C.ENUM_COLORS)], j != 3)
                for j, o in enumerate(kw.pop("options", []))]
        cf = CustomField(gid(), i, name, subtype, org, rng.choice(users), options=opts,
                         description=f"{name} of the work item.", **kw)
        store.register_custom_field(cf)

    # tags ----------------------------------------------------------------
    def make_tag(ws, i):
        t = Tag(gid(), i, ws, _uniq_name(C.TAG_NAMES, i),
                rng.choice(C.PROJECT_COLORS + [None]), rng.choice(("", "Tag notes 📝", "用途：分类")),
                start + int(rng.random() * span * 0.5), tuple(pick_users(rng.randrange(3))))
        store.register_tag(t)
        return t

    for i in range(spec.tags):
        make_tag(org, i)
    personal_tags = [make_tag(personal, spec.tags + i) for i in range(2)]

    # projects ------------------------------------------------------------
    n_archived = round(spec.archived_fraction * spec.projects)
    if spec.archived_fraction > 0 and spec.projects >= 2:
        n_archived = max(1, n_archived)
    n_archived = min(n_archived, spec.projects - 1) if spec.projects > 1 else 0
    archived_idx = set(rng.sample(range(spec.projects), n_archived))

    def make_project(ws, i, team, n_sections, archived):
        p = Project(gid(), i, ws, team, _uniq_name(C.PROJECT_NAMES, i))
        p.created_at = start + int(rng.random() * span * 0.6)
        p.modified_at = p.created_at + int(rng.random() * (anchor - p.created_at))
        p.archived = archived
        p.color = rng.choice(C.PROJECT_COLORS + ["none"])
        p.icon = rng.choice(C.PROJECT_ICONS)
        p.owner = rng.choice(users) if rng.random() < 0.9 else None
        p.members = sorted(pick_users(2 + rng.randrange(5)), key=lambda u: u.idx)
        p.followers = p.members[: 1 + rng.randrange(len(p.members))]
        if rng.random() < 0.6:
            p.due_on = (p.created_at // DAY_MS) + 30 + rng.randrange(300)
            if rng.random() < 0.5:
                p.start_on = p.due_on - 10 - rng.randrange(20)
        if archived or rng.random() < 0.1:
            p.completed = True
            p.completed_at = p.created_at + int(rng.random() * (p.modified_at - p.created_at))
            p.completed_by = rng.choice(users)
        p.default_view = rng.choice(("list", "board", "calendar", "timeline"))
        p.privacy_setting = rng.choice(("public_to_workspace", "private"))
        if ws.is_organization:
            for cf in ws.custom_fields:
                if cf.idx == 0 or rng.random() < 0.7:
                    p.custom_field_settings.append((gid(), cf, rng.random() < 0.5))
        for s in range(n_sections):
            sec = Section(gid(), s, p, _uniq_name(C.SECTION_NAMES, s),
                          p.created_at + s * 60_000)
            p.sections.append(sec)
        store.register_project(p)
        return p

    projects = [make_project(org, i, org.teams[i % len(org.teams)], spec.sections_per_project,
                             i in archived_idx) for i in range(spec.projects)]
    personal_projects = [make_project(personal, spec.projects + i, None, 2, False)
                         for i in range(spec.personal_projects)]

    # tasks ---------------------------------------------------------------
    subtypes = ("default_task",) * 10 + ("milestone", "approval")
    approval = ("pending", "approved", "rejected", "changes_requested")
    rand = rng.random
    rrange = rng.randrange
    n_users = len(users)

    def make_task(ws, lo, tags_pool):
        t = Task(gid(), store.next_task_idx(), ws,
                 f"{C.TASK_VERBS[rrange(len(C.TASK_VERBS))]} "
                 f"{C.TASK_OBJECTS[rrange(len(C.TASK_OBJECTS))]}")
        created = lo + int(rand() * (anchor - lo - 1))
        t.created_at = created
        t.modified_at = created + int(rand() * (anchor - created))
        t.association_changed_at = created
        t.subtype = subtypes[rrange(len(subtypes))]
        t.created_by = users[rrange(n_users)]
        if rand() < 0.75:
            # the token's user (users[0]) owns a fair share, as a PAT owner does
            t.assignee = users[0] if rand() < 0.15 else users[rrange(n_users)]
            if rand() < 0.6:
                t.assigned_by = users[rrange(n_users)]
        if t.subtype == "approval":
            t.approval_status = approval[rrange(4)]
            t.completed = t.approval_status == "approved"
        else:
            t.completed = rand() < 0.35
        if t.completed:
            t.completed_at = created + int(rand() * (t.modified_at - created))
            t.completed_by = t.assignee or users[rrange(n_users)]
        r = rand()
        if r < 0.55:
            t.due_on = created // DAY_MS + rrange(90)
        elif r < 0.65:
            t.due_at = created + rrange(90) * DAY_MS + 3_600_000 * (9 + rrange(9))
            t.due_on = t.due_at // DAY_MS
        if t.due_on is not None and rand() < 0.15:
            t.start_on = t.due_on - 1 - rrange(10)
        fl = []
        if t.assignee is not None:
            fl.append(t.assignee)
        if rand() < 0.4:
            u = users[rrange(n_users)]
            if u not in fl:
                fl.append(u)
        t.followers = tuple(fl)
        if tags_pool and rand() < 0.3:
            t.tags = (tags_pool[rrange(len(tags_pool))],)
            if rand() < 0.3:
                t2 = tags_pool[rrange(len(tags_pool))]
                if t2 is not t.tags[0]:
                    t.tags += (t2,)
        if rand() < 0.1:
            t.likes = (users[rrange(n_users)],)
        return t

    project_tasks = []
    for p in projects:
        for _ in range(spec.tasks_per_project):
            t = make_task(org, p.created_at, org.tags)
            t.memberships.append((p, p.sections[rrange(len(p.sections))]))
            p.tasks.append(t)
            store.register_task(t)
            project_tasks.append(t)
    if len(projects) > 1 and spec.multi_homed_fraction > 0:
        for t in project_tasks:
            if rand() < spec.multi_homed_fraction:
                home = t.memberships[0][0]
                q = projects[rrange(len(projects) - 1)]
                if q is home:
                    q = projects[-1]
                t.memberships.append((q, q.sections[rrange(len(q.sections))]))
                q.tasks.append(t)
    n_sub = round(spec.subtask_fraction * len(project_tasks))
    eligible = max(1, round(spec.subtask_parent_share * len(project_tasks)))
    stride = len(project_tasks) / eligible
    subtasks = []
    for _ in range(n_sub):
        parent = (subtasks[rrange(len(subtasks))] if subtasks and rand() < spec.subtask_nesting
                  else project_tasks[int(rrange(eligible) * stride)])
        t = make_task(org, parent.created_at, org.tags)
        t.parent = parent
        parent.children.append(t)
        store.register_task(t)
        subtasks.append(t)
    for p in personal_projects:
        for _ in range(spec.personal_tasks_per_project):
            t = make_task(personal, p.created_at, personal_tags)
            t.memberships.append((p, p.sections[rrange(len(p.sections))]))
            p.tasks.append(t)
            store.register_task(t)
