"""The eight Asana tables and how each is loaded by default.

Only `tasks` has an incremental key (modified_at, bookmarked by tap-asana);
the API offers no "changed since" filter for the others, so they are full
extracts and default to `replace`, which is also the only way deletions and
renames at the source show up in the copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from omniload_cli.errors import UsageError

STRATEGIES = ("replace", "merge", "append")


@dataclass(frozen=True)
class Table:
    name: str                      # source table == tap-asana stream name
    default_strategy: str
    incremental_key: str | None    # None: every run is a full extract
    primary_key: str = "gid"
    description: str = ""

    @property
    def incremental(self) -> bool:
        return self.incremental_key is not None


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("workspaces", "replace", None, description="the workspace named in the URI"),
    Table("projects", "replace", None, description="all projects, archived included"),
    Table("sections", "replace", None, description="sections of every project"),
    Table("tags", "replace", None, description="tags of the workspace"),
    Table("tasks", "merge", "modified_at",
          description="tasks, incremental on modified_at (merge on gid)"),
    Table("stories", "replace", None, description="comments and activity of every task"),
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
    - merge: rows are upserted on gid.  On tasks it is incremental (only rows
      changed since the stored bookmark are fetched).  On the other tables it
      is an upsert of a full extract: allowed, but rows deleted at the source
      are kept (document, do not refuse: it is a legitimate "never lose rows"
      choice).
    - append: rows are inserted as they come.  On tasks that yields a change
      log (one row per seen version).  On a table without an incremental key
      every run would insert the whole table again, so it is refused.
    """
    strategy = requested or table.default_strategy
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown incremental strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy == "append" and not table.incremental:
        raise UsageError(
            f"--incremental-strategy append makes no sense for {table.name!r}: it has no "
            f"incremental key, so every run would insert all rows again; use replace or merge")
    return strategy
