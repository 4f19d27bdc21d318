"""The nine Asana tables and how each is loaded by default.

Only tasks have a server-side "changed since" filter (modified_at). Stories
ride on it: a new story bumps its task's modified_at, so under merge only the
stories of changed tasks are fetched. Subtasks follow the projects' events
between periodic walks of every task's subtasks. The other tables have no
such filter: they are full extracts and default to `replace`, which is also
the only way deletions and renames at the source show up in the copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from omniload_cli.errors import UsageError

STRATEGIES = ("replace", "merge", "append")


@dataclass(frozen=True)
class Table:
    name: str                      # source table == tap-asana stream name
    default_strategy: str
    incremental_key: str | None    # what the bookmark follows; None: always a full extract
    # Strategies under which a run fetches only what changed since the bookmark.
    incremental_strategies: tuple[str, ...] = ()
    tap_setting: str | None = None  # tap-asana setting that turns that on
    windowable: bool = False       # --interval-start/--interval-end apply
    primary_key: str = "gid"
    description: str = ""

    def is_incremental(self, strategy: str) -> bool:
        return strategy in self.incremental_strategies


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("workspaces", "replace", None, description="the workspace named in the URI"),
    Table("projects", "replace", None, description="all projects, archived included"),
    Table("sections", "replace", None, description="sections of every project"),
    Table("tags", "replace", None, description="tags of the workspace"),
    Table("tasks", "merge", "modified_at", ("merge", "append"), windowable=True,
          description="tasks, incremental on modified_at (merge on gid)"),
    Table("subtasks", "merge", "the projects' events", ("merge",),
          description="subtasks of every task, every level (merge: Asana's events, a walk daily)"),
    Table("stories", "replace", "its task's modified_at", ("merge",),
          tap_setting="stories_incremental",
          description="comments and activity of every task (merge: changed tasks only)"),
    Table("teams", "replace", None, description="teams (organizations only)"),
    Table("users", "replace", None, description="users of the workspace"),
)}


def get_table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise UsageError(
            f"unknown source table {name!r}; valid tables: {', '.join(TABLES)}"
        ) from None


def resolve_strategy(table: Table, requested: str | None) -> str:
    """The strategy actually used, or a UsageError saying why not.

    - replace: full extract, the table is swapped atomically.  Always allowed.
    - merge: rows are upserted on gid.  On tasks, subtasks and stories it is
      incremental and exact (only what changed since the last run is fetched; the tap's
      tombstones delete what Asana no longer has).  On the other
      tables it is an upsert of a full extract: allowed, but rows deleted at
      the source are kept (document, do not refuse: it is a legitimate "never
      lose rows" choice).
    - append: rows are inserted as they come.  On tasks that yields a change
      log (one row per seen version).  Elsewhere every run would insert rows
      it already has again (all of them, or every story of a changed task),
      so it is refused.
    """
    strategy = requested or table.default_strategy
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown incremental strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy == "append" and not table.is_incremental("append"):
        raise UsageError(
            f"--incremental-strategy append makes no sense for {table.name!r}: every run "
            f"would insert rows it already has again; use replace or merge")
    return strategy


def parse_table_list(value: str) -> list[Table]:
    """`all`, one table, or a comma-separated list; in the tap's sync order
    (each table's listings are reused by the ones after it), duplicates once."""
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise UsageError(f"missing --source-table; valid tables: all, {', '.join(TABLES)}")
    if "all" in names:
        if len(names) > 1:
            raise UsageError("--source-table all already names every table; list tables or say all")
        return list(TABLES.values())
    wanted = {get_table(n).name for n in names}
    return [t for t in TABLES.values() if t.name in wanted]


def resolve_strategies(tables: list[Table], requested: str | None) -> list[str]:
    """Each table's strategy.  One table: as resolve_strategy.  Several: a
    requested strategy applies where it means something -- replace to every
    table, merge where merge is incremental (tasks, subtasks, stories), append where
    it makes a change log (tasks) -- and the other tables keep their
    defaults; one that applies to none of them is refused."""
    if len(tables) == 1:
        return [resolve_strategy(tables[0], requested)]
    if requested is None:
        return [t.default_strategy for t in tables]
    if requested not in STRATEGIES:
        raise UsageError(
            f"unknown incremental strategy {requested!r}; choose one of {', '.join(STRATEGIES)}")

    def applies(t: Table) -> bool:
        return requested == "replace" or t.is_incremental(requested)

    if not any(applies(t) for t in tables):
        where = ", ".join(t.name for t in TABLES.values() if t.is_incremental(requested))
        raise UsageError(f"--incremental-strategy {requested} applies to none of "
                         f"{', '.join(t.name for t in tables)} (only to {where})")
    return [requested if applies(t) else t.default_strategy for t in tables]
