"""Compact in-memory state of every simulated object.

Objects hold references to each other and only the state that can change or
that listings filter on. Everything else a response needs (notes, custom field
values, generated stories...) is derived lazily and deterministically from the
seed and the object's index, so 100k tasks stay cheap to generate and to hold.
"""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

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


# Every model is a @dataclass(slots=True, eq=False, repr=False). eq=False keeps
# identity equality and hashing: objects are compared with `is` and `in`, and
# reference each other in cycles, so a field-wise __eq__ (or __repr__) would
# walk the whole workspace. Fields after KW_ONLY are state that generation and
# mutations fill in later, kept out of the positional constructor.


@dataclass(slots=True, eq=False, repr=False)
class Workspace:
    gid: str
    name: str
    is_organization: bool
    email_domains: list[str]
    _: KW_ONLY
    teams: list[Team] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)


@dataclass(slots=True, eq=False, repr=False)
class Team:
    gid: str
    idx: int
    name: str
    workspace: Workspace
    description: str
    visibility: str
    endorsed: bool
    levels: tuple[str, ...]
    _: KW_ONLY
    deleted: bool = False


@dataclass(slots=True, eq=False, repr=False)
class User:
    gid: str
    idx: int
    name: str
    email: str
    has_photo: bool
    _: KW_ONLY
    teams: list[Team] = field(default_factory=list)
    deleted: bool = False


@dataclass(slots=True, eq=False, repr=False)
class EnumOption:
    gid: str
    name: str
    color: str
    enabled: bool = True


@dataclass(slots=True, eq=False, repr=False)
class CustomField:
    gid: str
    idx: int
    name: str
    subtype: str
    workspace: Workspace
    created_by: User
    _: KW_ONLY
    options: list[EnumOption] = field(default_factory=list)
    precision: int = 0
    format: str = "none"
    currency_code: str | None = None
    custom_label: str | None = None
    custom_label_position: str | None = None
    description: str = ""

    def __post_init__(self):
        # any iterable of options is accepted; the field keeps its own list
        self.options = list(self.options)


@dataclass(slots=True, eq=False, repr=False)
class Project:
    gid: str
    idx: int
    workspace: Workspace
    team: Team | None
    name: str
    _: KW_ONLY
    archived: bool = False
    color: str | None = None
    icon: str | None = None
    created_at: int = 0
    modified_at: int = 0
    owner: User | None = None
    members: list[User] = field(default_factory=list)
    followers: list[User] = field(default_factory=list)
    due_on: int | None = None
    start_on: int | None = None
    completed: bool = False
    completed_at: int | None = None
    completed_by: User | None = None
    default_view: str = "list"
    privacy_setting: str = "public_to_workspace"
    # (setting gid, CustomField, is_important)
    custom_field_settings: list[tuple[str, CustomField, bool]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    # Stable listing order (generation/insertion order), deliberately not
    # sorted by modified_at: clients must not rely on an order.
    tasks: list[Task] = field(default_factory=list)
    deleted: bool = False


@dataclass(slots=True, eq=False, repr=False)
class Section:
    gid: str
    idx: int
    project: Project | None  # None: a "My tasks" section
    name: str
    created_at: int
    _: KW_ONLY
    deleted: bool = False


@dataclass(slots=True, eq=False, repr=False)
class Tag:
    gid: str
    idx: int
    workspace: Workspace
    name: str
    color: str | None
    notes: str
    created_at: int
    followers: tuple[User, ...]
    _: KW_ONLY
    deleted: bool = False


@dataclass(slots=True, eq=False, repr=False)
class Task:
    gid: str
    idx: int
    workspace: Workspace
    name: str
    _: KW_ONLY
    notes: str | None = None  # None: derived lazily from the seed
    subtype: str = "default_task"
    created_at: int = 0
    modified_at: int = 0
    # Adding a task to a project makes it match modified_since without
    # moving modified_at (Asana's modified_since is documented to count
    # association changes, while modified_at does not move); tracked separately.
    association_changed_at: int = 0
    completed: bool = False
    completed_at: int | None = None
    completed_by: User | None = None
    assignee: User | None = None
    assigned_by: User | None = None
    created_by: User | None = None
    due_on: int | None = None
    due_at: int | None = None
    start_on: int | None = None
    approval_status: str | None = None
    memberships: list[tuple[Project, Section]] = field(default_factory=list)
    parent: Task | None = None
    children: list[Task] = field(default_factory=list)
    tags: tuple[Tag, ...] = ()
    followers: tuple[User, ...] = ()
    likes: tuple[User, ...] = ()
    cf_overrides: dict | None = None
    stories: list[Story] | None = None  # None: not generated yet
    deleted: bool = False
    # The task whose deletion trashed this one (itself, or the ancestor it
    # went with): restoring that task brings back exactly what went with it.
    trashed_with: str | None = None

    def projects(self):
        return [p for p, _ in self.memberships]

    def changed_at(self) -> int:
        return max(self.modified_at, self.association_changed_at)


@dataclass(slots=True, eq=False, repr=False)
class Story:
    gid: str
    task: Task
    created_at: int
    subtype: str
    author: User | None
    text: str
    extra: dict = field(default_factory=dict)
    _: KW_ONLY
    is_pinned: bool = False
    is_edited: bool = False
    likes: tuple[User, ...] = ()
    sticker_name: str | None = None
    source: str = "web"
    deleted: bool = False

    @property
    def is_comment(self) -> bool:
        return self.subtype == "comment_added"
