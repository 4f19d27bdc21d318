"""Generated stories: each task's history, derived when first read from the
seed, the task's index and the task as it is then. Every task has a random
generator of its own, so the stories don't depend on which tasks were read
before; the mutations of a task generate its stories before they change it,
so an edit doesn't rewrite its history.

A task's stories fall between its created_at and modified_at, the newest at
modified_at (the event that last bumped it). About half are comments; the rest
are system stories of a subtype whose references exist for that task (no
"assigned" story on an unassigned task), so every relational field of a story
points at a real object.
"""
from __future__ import annotations

import random

from . import content as C
from .derived_values import task_custom_field_defs
from .gids import story_gid
from .models import Story, mix
from .timeutil import DAY_MS


def generate_stories(store, t) -> list[Story]:
    """The task's generated stories, oldest first."""
    rng = random.Random(mix(store.seed, 7, t.idx))
    lo, hi = store.spec.stories_per_task
    n = rng.randint(lo, hi)
    if n == 0:
        return []
    # created_at <= modified_at: stories happen between creation and the
    # task's last modification (the newest one is what last bumped it).
    times = sorted(t.created_at + int(rng.random() * (t.modified_at - t.created_at))
                   for _ in range(n - 1)) + [t.modified_at]
    users = store.users
    out = []
    for j, ts in enumerate(times):
        author = users[rng.randrange(len(users))]
        kind = rng.random()
        st = None
        if kind < 0.55:
            st = Story(story_gid(store.seed, t.idx, j), t, ts, "comment_added", author,
                       C.COMMENTS[rng.randrange(len(C.COMMENTS))])
            st.is_pinned = rng.random() < 0.05
            st.is_edited = rng.random() < 0.1
            if rng.random() < 0.15:
                st.likes = (users[rng.randrange(len(users))],)
            if rng.random() < 0.03:
                st.sticker_name = "party_popper"
        else:
            st = _system_story(store, story_gid(store.seed, t.idx, j), t, ts, author, rng)
        st.source = ("web", "web", "web", "mobile", "email", "api")[rng.randrange(6)]
        out.append(st)
    return out


def _system_story(store, gid, t, ts, author, rng):
    options = ["name_changed", "notes_changed", "follower_added"]
    # only subtypes whose references exist for this task, so every
    # relational field points at a real object
    if t.assignee is not None:
        options.append("assigned")
    if t.memberships:
        options += ["added_to_project", "section_changed"]
    if t.completed:
        options.append("marked_complete")
    if t.due_on is not None:
        options.append("due_date_changed")
    if t.tags:
        options.append("added_to_tag")
    if t.parent is not None:
        options.append("added_to_task")
    cfs = task_custom_field_defs(t)
    if cfs:
        options += ["custom_field_changed"] * 2
    # Pick related tasks among the generated ones by index, so the choice
    # doesn't depend on mutations made before these stories were read.
    n_gen = store.generated_task_count
    if n_gen > 1:
        options += ["marked_duplicate", "duplicated", "dependency_added"]
    if t.subtype == "approval":
        options.append("approval_status_changed")
    if t.subtype != "default_task":
        options.append("resource_subtype_changed")
    sub = options[rng.randrange(len(options))]
    extra = {}
    users = store.users
    if sub == "name_changed":
        extra = {"old_name": t.name + " (draft)", "new_name": t.name}
        text = f'changed the name to "{t.name}"'
    elif sub == "notes_changed":
        text = "changed the description"
    elif sub == "follower_added":
        u = users[rng.randrange(len(users))]
        extra = {"follower": u}
        text = f"added {u.name} as a collaborator"
    elif sub == "assigned":
        extra = {"assignee": t.assignee}
        text = f"assigned to {t.assignee.name}"
    elif sub == "added_to_project":
        p = t.memberships[0][0]
        extra = {"project": p}
        text = f"added to {p.name}"
    elif sub == "section_changed":
        p, sec = t.memberships[0]
        old = p.sections[rng.randrange(len(p.sections))]
        extra = {"project": p, "old_section": old, "new_section": sec}
        text = f'moved this task from "{old.name}" to "{sec.name}" in {p.name}'
    elif sub == "marked_complete":
        text = "marked this task complete"
    elif sub == "due_date_changed":
        old = t.due_on - 1 - rng.randrange(7)
        extra = {"old_dates": (None, None, old), "new_dates": (t.start_on, t.due_at, t.due_on)}
        text = "changed the due date"
    elif sub == "added_to_tag":
        tag = t.tags[0]
        extra = {"tag": tag}
        text = f"added to {tag.name}"
    elif sub == "added_to_task":
        extra = {"task": t.parent}
        text = f"added subtask to task {t.parent.name}"
    elif sub in ("marked_duplicate", "duplicated", "dependency_added"):
        other = t.parent or t
        for _ in range(16):
            cand = store.tasks[rng.randrange(n_gen)]
            if cand is not t and cand.workspace is t.workspace:
                other = cand
                break
        if other is t:  # a lone task in its workspace: link it to itself
            other = t
        key = {"marked_duplicate": "duplicate_of", "duplicated": "duplicated_from",
               "dependency_added": "dependency"}[sub]
        extra = {key: other}
        text = {"marked_duplicate": f"marked this a duplicate of {other.name}",
                "duplicated": f"duplicated task from {other.name}",
                "dependency_added": f"marked this task as dependent on {other.name}"}[sub]
    elif sub == "approval_status_changed":
        extra = {"old_approval_status": "pending",
                 "new_approval_status": t.approval_status or "pending"}
        text = f"changed the approval status to {extra['new_approval_status']}"
    elif sub == "resource_subtype_changed":
        extra = {"old_resource_subtype": "default_task", "new_resource_subtype": t.subtype}
        text = f"changed this task to a {t.subtype.replace('_', ' ')}"
    else:
        cf = cfs[rng.randrange(len(cfs))]
        kind = cf.subtype
        sub = f"{kind}_custom_field_changed"
        extra = {"custom_field": cf}
        if kind == "enum":
            new = cf.options[rng.randrange(len(cf.options))]
            old = cf.options[rng.randrange(len(cf.options))]
            extra.update(old_enum_value=old, new_enum_value=new)
            text = f'changed {cf.name} from "{old.name}" to "{new.name}"'
        elif kind == "multi_enum":
            extra.update(old_multi_enum_values=[cf.options[0]],
                         new_multi_enum_values=cf.options[: 1 + rng.randrange(2)])
            text = f"changed {cf.name}"
        elif kind == "number":
            extra.update(old_number_value=rng.randrange(100),
                         new_number_value=rng.randrange(100))
            text = f"changed {cf.name}"
        elif kind == "text":
            extra.update(old_text_value=C.TEXT_VALUES[rng.randrange(len(C.TEXT_VALUES))],
                         new_text_value=C.TEXT_VALUES[rng.randrange(len(C.TEXT_VALUES))])
            text = f"changed {cf.name}"
        elif kind == "date":
            day = t.created_at // DAY_MS + rng.randrange(60)
            extra.update(old_date_value=(None, None, day),
                         new_date_value=(None, None, day + 1 + rng.randrange(9)))
            text = f"changed {cf.name}"
        else:
            extra.update(old_people_value=[],
                         new_people_value=[users[rng.randrange(len(users))]])
            text = f"changed {cf.name}"
    return Story(gid, t, ts, sub, author, text, extra)
