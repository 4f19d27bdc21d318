"""Values a record needs that the models don't store: derived on every read
from mix(seed, salt, index), so they cost no memory and are the same however
often they are read. An edit that sets such a value stores it on the object
(task notes, custom field overrides), and that wins.

Each function takes the store (for the seed, the users and the viewer's "My
tasks" sections) and the object.
"""
from __future__ import annotations

from . import content as C
from .models import mix
from .timeutil import DAY_MS


def task_notes(store, t) -> str:
    if t.notes is not None:
        return t.notes
    return C.NOTES[mix(store.seed, 11, t.idx) % len(C.NOTES)]


def project_notes(store, p) -> str:
    return C.NOTES[mix(store.seed, 12, p.idx) % len(C.NOTES)]


def task_external(store, t):
    # A few tasks carry integration data; the rest have none (null).
    if mix(store.seed, 13, t.idx) % 20 == 0:
        return {"gid": f"ext-{t.idx}", "data": f'{{"ticket": "SIM-{t.idx}"}}'}
    return None


def actual_time_minutes(store, t):
    h = mix(store.seed, 14, t.idx)
    return None if h % 3 else float(h % 600)


def assignee_status(store, t):
    if t.assignee is None:
        return "inbox"
    return ("today", "upcoming", "later", "new", "inbox")[mix(store.seed, 15, t.idx) % 5]


def my_tasks_section(store, t):
    secs = store.my_tasks_sections()
    return secs[mix(store.seed, 16, t.idx) % len(secs)]


def task_custom_field_defs(t):
    """The custom fields of a task: those of all its projects, in field order."""
    seen = []
    for p, _ in t.memberships:
        for _, cf, _ in p.custom_field_settings:
            if cf not in seen:
                seen.append(cf)
    seen.sort(key=lambda cf: cf.idx)
    return seen


def cf_value(store, t, cf):
    """The task's typed value of cf: an int, a float, a str, an EnumOption, a
    list of options or users, a day number, or None."""
    if t.cf_overrides is not None and cf.gid in t.cf_overrides:
        return t.cf_overrides[cf.gid]
    h = mix(store.seed, 20 + cf.idx, t.idx)
    if h % 5 == 0:
        return None
    h >>= 3
    st = cf.subtype
    if st == "text":
        return C.TEXT_VALUES[h % len(C.TEXT_VALUES)]
    if st == "number":
        if cf.precision:
            return round((h % 100_000) / 10 ** cf.precision, cf.precision)
        return h % 1000
    if st == "enum":
        return cf.options[h % len(cf.options)]
    if st == "multi_enum":
        a = cf.options[h % len(cf.options)]
        b = cf.options[(h >> 8) % len(cf.options)]
        return [a] if a is b else sorted([a, b], key=cf.options.index)
    if st == "date":
        return t.created_at // DAY_MS + (h % 120)
    if st == "people":
        return [store.users[h % len(store.users)]]
    return None
