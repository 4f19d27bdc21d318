"""Compact in-memory state of every simulated object.

Objects hold references to each other and only the state that can change or
that listings filter on. Everything else a response needs (notes, custom field
values, generated stories...) is derived lazily and deterministically from the
seed and the object's index, so 100k tasks stay cheap to generate and to hold.
"""
from __future__ import annotations

MASK64 = (1 << 64) - 1


def mix(*parts: int) -> int:
    """splitmix64-style hash of integers: a stable, fast per-object randomness."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & MASK64)) * 0xBF58476D1CE4E5B9 & MASK64
        x ^= x >> 31
        x = x * 0x94D049BB133111EB & MASK64
        x ^= x >> 29
    return x


class Workspace:
    __slots__ = ("gid", "name", "is_organization", "email_domains", "teams", "projects",
                 "tags", "custom_fields")

    def __init__(self, gid, name, is_organization, email_domains):
        self.gid = gid
        self.name = name
        self.is_organization = is_organization
        self.email_domains = email_domains
        self.teams: list[Team] = []
        self.projects: list[Project] = []
        self.tags: list[Tag] = []
        self.custom_fields: list[CustomField] = []


class Team:
    __slots__ = ("gid", "idx", "name", "workspace", "description", "visibility", "endorsed",
                 "levels", "deleted")

    def __init__(self, gid, idx, name, workspace, description, visibility, endorsed, levels):
        self.gid = gid
        self.idx = idx
        self.name = name
        self.workspace = workspace
        self.description = description
        self.visibility = visibility
        self.endorsed = endorsed
        self.levels = levels
        self.deleted = False


class User:
    __slots__ = ("gid", "idx", "name", "email", "has_photo", "teams", "deleted")

    def __init__(self, gid, idx, name, email, has_photo):
        self.gid = gid
        self.idx = idx
        self.name = name
        self.email = email
        self.has_photo = has_photo
        self.teams: list[Team] = []
        self.deleted = False


class EnumOption:
    __slots__ = ("gid", "name", "color", "enabled")

    def __init__(self, gid, name, color, enabled=True):
        self.gid = gid
        self.name = name
        self.color = color
        self.enabled = enabled


class CustomField:
    __slots__ = ("gid", "idx", "name", "subtype", "options", "precision", "format",
                 "currency_code", "custom_label", "custom_label_position", "description",
                 "created_by", "workspace")

    def __init__(self, gid, idx, name, subtype, workspace, created_by, *, options=(),
                 precision=0, format="none", currency_code=None, custom_label=None,
                 custom_label_position=None, description=""):
        self.gid = gid
        self.idx = idx
        self.name = name
        self.subtype = subtype
        self.workspace = workspace
        self.created_by = created_by
        self.options: list[EnumOption] = list(options)
        self.precision = precision
        self.format = format
        self.currency_code = currency_code
        self.custom_label = custom_label
        self.custom_label_position = custom_label_position
        self.description = description


class Project:
    __slots__ = ("gid", "idx", "workspace", "team", "name", "archived", "color", "icon",
                 "created_at", "modified_at", "owner", "members", "followers", "due_on",
                 "start_on", "completed", "completed_at", "completed_by", "default_view",
                 "privacy_setting", "custom_field_settings", "sections", "tasks", "deleted")

    def __init__(self, gid, idx, workspace, team, name):
        self.gid = gid
        self.idx = idx
        self.workspace = workspace
        self.team = team
        self.name = name
        self.archived = False
        self.color = None
        self.icon = None
        self.created_at = 0
        self.modified_at = 0
        self.owner = None
        self.members: list[User] = []
        self.followers: list[User] = []
        self.due_on = None
        self.start_on = None
        self.completed = False
        self.completed_at = None
        self.completed_by = None
        self.default_view = "list"
        self.privacy_setting = "public_to_workspace"
        # list of (setting gid, CustomField, is_important)
        self.custom_field_settings: list[tuple[str, CustomField, bool]] = []
        self.sections: list[Section] = []
        # Stable listing order (generation/insertion order), deliberately not
        # sorted by modified_at: clients must not rely on an order.
        self.tasks: list[Task] = []
        self.deleted = False


class Section:
    __slots__ = ("gid", "idx", "project", "name", "created_at", "deleted")

    def __init__(self, gid, idx, project, name, created_at):
        self.gid = gid
        self.idx = idx
        self.project = project
        self.name = name
        self.created_at = created_at
        self.deleted = False


class Tag:
    __slots__ = ("gid", "idx", "workspace", "name", "color", "notes", "created_at", "followers",
                 "deleted")

    def __init__(self, gid, idx, workspace, name, color, notes, created_at, followers):
        self.gid = gid
        self.idx = idx
        self.workspace = workspace
        self.name = name
        self.color = color
        self.notes = notes
        self.created_at = created_at
        self.followers = followers
        self.deleted = False


class Task:
    __slots__ = ("gid", "idx", "workspace", "name", "notes", "subtype", "created_at",
                 "modified_at", "association_changed_at", "completed", "completed_at",
                 "completed_by", "assignee", "assigned_by", "created_by", "due_on", "due_at",
                 "start_on", "approval_status", "memberships", "parent", "children", "tags",
                 "followers", "likes", "cf_overrides", "stories", "deleted")

    def __init__(self, gid, idx, workspace, name):
        self.gid = gid
        self.idx = idx
        self.workspace = workspace
        self.name = name
        self.notes = None  # None: derived lazily from the seed
        self.subtype = "default_task"
        self.created_at = 0
        self.modified_at = 0
        # Adding a task to a project makes it match modified_since without
        # moving modified_at (Asana's modified_since is documented to count
        # association changes, while modified_at does not move); tracked separately.
        self.association_changed_at = 0
        self.completed = False
        self.completed_at = None
        self.completed_by = None
        self.assignee = None
        self.assigned_by = None
        self.created_by = None
        self.due_on = None
        self.due_at = None
        self.start_on = None
        self.approval_status = None
        self.memberships: list[tuple[Project, Section]] = []
        self.parent: Task | None = None
        self.children: list[Task] = []
        self.tags: tuple = ()
        self.followers: tuple = ()
        self.likes: tuple = ()
        self.cf_overrides: dict | None = None
        self.stories: list[Story] | None = None  # None: not generated yet
        self.deleted = False

    def projects(self):
        return [p for p, _ in self.memberships]

    def changed_at(self) -> int:
        return max(self.modified_at, self.association_changed_at)


class Story:
    __slots__ = ("gid", "task", "created_at", "subtype", "author", "text", "extra", "is_pinned",
                 "is_edited", "likes", "sticker_name", "source", "deleted")

    def __init__(self, gid, task, created_at, subtype, author, text, extra=None):
        self.gid = gid
        self.task = task
        self.created_at = created_at
        self.subtype = subtype
        self.author = author
        self.text = text
        self.extra = extra or {}
        self.is_pinned = False
        self.is_edited = False
        self.likes: tuple = ()
        self.sticker_name = None
        self.source = "web"
        self.deleted = False

    @property
    def is_comment(self) -> bool:
        return self.subtype == "comment_added"
