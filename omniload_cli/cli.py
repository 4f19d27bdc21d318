"""Command line: `omniload ingest | demo | setup`, modelled on ingestr's `ingest`.

Every ingest flag can also come from the environment, ingestr-style: the bare
name (SOURCE_URI, ...) or with an OMNILOAD_ prefix; the prefixed one wins, a
flag on the command line beats both.  Putting the source URI in SOURCE_URI
keeps the token off every command line, omniload's own included.

Errors are one line on stderr (`omniload: error: ...`): exit 2 for usage
errors, 1 for failures, 130 when interrupted.  Never a traceback (set
OMNILOAD_DEBUG=1 to get one for an internal error).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import textwrap

from omniload_cli import tables as tables_mod
from omniload_cli.entry import ARGV_FD, HANDED_OVER_ENV
from omniload_cli.errors import Interrupted, OmniloadError, UsageError, with_disk_hint
from omniload_cli.secrets import Scrubber
from omniload_cli.uri import (
    PostgresDest,
    check_table_for,
    parse_datetime,
    parse_dest_table,
    parse_dest_uri,
    parse_source_uri,
    postgres_passwords_in,
)

PROG = "omniload"
_TRUE = {"1", "true", "yes", "on", "y", "t"}

DESCRIPTION = """\
omniload copies an Asana workspace into a DuckDB file or a PostgreSQL
database, one table or all of them per command, and re-runs fetch only what
changed (tasks, subtasks; stories with merge) or swap in a fresh copy (the
rest).
"""

TABLES_HELP = "tables (--source-table):\n" + "\n".join(
    f"  {t.name:<11} default {t.default_strategy:<8} {t.description}"
    for t in tables_mod.TABLES.values())

INGEST_EPILOG = TABLES_HELP + """

strategies (--incremental-strategy):
  replace  full extract into a staging table, then swapped in atomically, in
           one transaction (DuckDB: drop old + rename; PostgreSQL: the same
           table's rows made the stage's, in place -- rows Asana no longer has
           deleted, the others updated, new ones inserted -- so its views,
           grants, indexes, column types, foreign keys to it and columns you
           added stay). Deletions and renames at the source show up.
           Default for every table except tasks and subtasks.
  merge    upsert on gid. On tasks (the default there) it is incremental and
           exact: a compact index of every project names the tasks that
           changed, moved or were renamed around since the last run (only those
           are fetched) and the ones Asana no longer has (deleted from the
           table). On stories too: only the stories of tasks whose modified_at
           moved are fetched, and deleted comments and the stories of removed
           tasks leave. On subtasks (the default there): each project's Asana
           events since the last run name what to read again, the compact
           index names the tasks that got or lost subtasks, and every
           subtasks_reconcile_hours (24) a walk of every task's subtasks
           catches what events missed; subtasks deleted or no longer under a
           project task leave. On the other tables it upserts a full extract,
           so rows deleted in Asana are kept.
  append   insert rows as they come (tasks only: a change log with one row per
           version seen; the table gets no primary key). Refused elsewhere,
           where every run would insert rows it already has again.

state and atomicity:
  Each table's bookmark (its part of the tap's last Singer STATE) is stored
  in the destination itself, table _omniload._state, keyed by schema.table,
  and written in the same transaction as the rows. A failed or interrupted run changes nothing;
  deleting the .db file (or the state row) starts from scratch; --full-refresh
  ignores the stored state and rebuilds the table. --interval-start/
  --interval-end (tasks only) load just that modified_at window and leave the
  stored bookmark unchanged. One run at a time per DuckDB file, and per
  PostgreSQL table (advisory locks): a second run waits for the first (saying
  for which PID) up to --lock-timeout seconds, then fails, changing nothing.

URIs:
  asana://<workspace_gid>?access_token=<token>[&api_url=URL][&start_date=DATE]
      Values are percent-decoded; '+' stays a literal plus. Tokens look like
      2/1204...:abc... and need no encoding ('/', ':' are fine).
  duckdb://./work.db  (relative)   duckdb:////abs/path/work.db  (absolute)
  postgresql://user:password@host:5432/database?sslmode=require  (postgres://
      too; user, password and database percent-decoded: @ as %40, : as %3A,
      / as %2F, # as %23; port 5432 by default; libpq parameters in the query;
      a unix socket: postgresql://user@/database?host=/var/run/postgresql).
      Put it in DESTINATION_URI: the password then shows in no process list.
  --dest-table schema.table, or a bare name for schema main on DuckDB, public
  on PostgreSQL (default: <that schema>.<source table>). Letters, digits and
  '_' only; case-insensitive.
  Several tables (--source-table all, or tasks,stories,users) go to
  --dest-schema, each named after its source table; a requested strategy
  applies where it means something (replace: every table; merge: tasks,
  subtasks and stories; append: tasks), the others keep their defaults. One tap lists
  everything once for all of them, and all the tables and their bookmarks
  are published in one transaction.

environment:
  SOURCE_URI SOURCE_TABLE DESTINATION_URI DESTINATION_TABLE DESTINATION_SCHEMA
  INCREMENTAL_STRATEGY INTERVAL_START INTERVAL_END FULL_REFRESH LOCK_TIMEOUT
  SKIP_CONFIRMATION PROGRESS, each
  also as OMNILOAD_<NAME> (which wins). OMNILOAD_TAP_SETTINGS='{"page_size":
  100, "requests_per_minute": 1500, "concurrency": 8}' tunes the tap.

examples:
  export SOURCE_URI='asana://1204567890123?access_token=2/1204...:abc...'
  ./omniload ingest --source-table tasks \\
      --dest-uri duckdb://./work.db --dest-table public.tasks
  ./omniload ingest --source-table all --incremental-strategy merge \\
      --dest-uri duckdb://./work.db --dest-schema public
  export DESTINATION_URI='postgresql://omni:p%40ss@db.internal:5432/analytics?sslmode=require'
  ./omniload ingest --source-table all --dest-schema asana
"""


# argparse errors that repeat what was typed, and what they say instead: a
# value given to a mistyped flag may be a URI with a password or a token.
_ECHOES = (
    (re.compile(r"invalid choice: .* \(choose from"), "invalid choice (not repeated here) (choose from"),
    (re.compile(r"(invalid \w+ value): .*$"), r"\1 (not repeated here)"),
    (re.compile(r"ignored explicit argument .*$"), "takes no value (not repeated here)"),
    (re.compile(r"ambiguous option: (-[^=\s]*)=.* could match"), r"ambiguous option: \1 could match"),
)
_FLAG = re.compile(r"^--?[A-Za-z][\w-]*$")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, exit 2, and never repeat an
    argument's value, only flag names."""

    def parse_known_args(self, args=None, namespace=None):
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self._subparsers is not None:   # the top parser: where argparse reports them
            names = [a.partition("=")[0] for a in extras if _FLAG.match(a.partition("=")[0])]
            if not names:
                self.error("unrecognized arguments (not repeated here: one may hold a secret)")
            valued = len(names) < len(extras) or any("=" in a for a in extras)
            whose = "its value is" if len(names) == 1 else "their values are"
            self.error(f"unrecognized arguments: {', '.join(names)}"
                       + (f" ({whose} not repeated here)" if valued else ""))
        return parsed, extras

    def error(self, message):
        for echo, instead in _ECHOES:
            message = echo.sub(instead, message)
        raise UsageError(f"{message} (see {self.prog} --help)")


def _env(name: str) -> str | None:
    for key in (f"OMNILOAD_{name}", name):
        value = os.environ.get(key)
        if value not in (None, ""):
            return value
    return None


def _env_flag(name: str) -> bool:
    value = _env(name)
    return value is not None and value.strip().lower() in _TRUE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=DESCRIPTION + "\n" + TABLES_HELP,
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=textwrap.dedent("""\
                         commands:
                           ingest  copy Asana tables into DuckDB or PostgreSQL (see: omniload ingest --help)
                           demo    run against a bundled Asana simulator, no token needed
                           setup   only create the tap's and the loader's environments
                         """))
    sub = parser.add_subparsers(dest="command", metavar="{ingest,demo,setup}", parser_class=_Parser)

    ing = sub.add_parser("ingest", help="copy Asana tables into DuckDB or PostgreSQL tables",
                         description="Copy one Asana table, several or all into DuckDB or PostgreSQL "
                                     "tables, in one run and one transaction.",
                         epilog=INGEST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ing.add_argument("--source-uri", default=_env("SOURCE_URI"), metavar="URI",
                     help="asana://<workspace_gid>?access_token=<token> [env SOURCE_URI]")
    ing.add_argument("--source-table", default=_env("SOURCE_TABLE"), metavar="TABLE[,TABLE...]",
                     help=f"one of: {', '.join(tables_mod.TABLES)}; several, comma-separated; or all "
                          f"(one run, one consistent publish) [env SOURCE_TABLE]")
    ing.add_argument("--dest-uri", default=_env("DESTINATION_URI"), metavar="URI",
                     help="duckdb://./work.db, duckdb:////abs/path.db or "
                          "postgresql://user:password@host:5432/database [env DESTINATION_URI]")
    ing.add_argument("--dest-table", default=_env("DESTINATION_TABLE"), metavar="SCHEMA.TABLE",
                     help="target table of a single source table (default main.<source table>; "
                          "public.<source table> on PostgreSQL) [env DESTINATION_TABLE]")
    ing.add_argument("--dest-schema", default=_env("DESTINATION_SCHEMA"), metavar="SCHEMA",
                     help="schema for every table, each named after its source table (default main; "
                          "public on PostgreSQL) [env DESTINATION_SCHEMA]")
    ing.add_argument("--incremental-strategy", default=_env("INCREMENTAL_STRATEGY"),
                     metavar="{replace,merge,append}",
                     help="override the table's default strategy (see below) [env INCREMENTAL_STRATEGY]")
    ing.add_argument("--interval-start", default=_env("INTERVAL_START"), metavar="DATE",
                     help="tasks only: load tasks modified at or after DATE; bookmark unchanged [env INTERVAL_START]")
    ing.add_argument("--interval-end", default=_env("INTERVAL_END"), metavar="DATE",
                     help="tasks only: load tasks modified at or before DATE; bookmark unchanged [env INTERVAL_END]")
    ing.add_argument("--full-refresh", action="store_true", default=_env_flag("FULL_REFRESH"),
                     help="ignore the stored state and rebuild the table (on PostgreSQL in place, as "
                          "replace does: the table keeps its existing column types) [env FULL_REFRESH]")
    ing.add_argument("--lock-timeout", default=_env("LOCK_TIMEOUT"), metavar="SECONDS",
                     help="while another omniload run uses the destination (the DuckDB file, the "
                          "PostgreSQL tables), wait this long for it, and on PostgreSQL as long for a "
                          "table's readers to let a new column be added (default 600; 0: fail at once) "
                          "[env LOCK_TIMEOUT]")
    ing.add_argument("--yes", "-y", action="store_true", default=_env_flag("SKIP_CONFIRMATION"),
                     help="accepted for ingestr compatibility; omniload never prompts [env SKIP_CONFIRMATION]")
    ing.add_argument("--progress", default=_env("PROGRESS") or "interactive",
                     metavar="{interactive,log}",
                     help="interactive: one updating line on a terminal (log lines otherwise); "
                          "log: timestamped lines [env PROGRESS]")

    demo = sub.add_parser("demo", help="ingest all tables from a bundled Asana simulator",
                          description="Start the bundled Asana simulator (no token needed), ingest "
                                      "every table into a DuckDB file, print what was loaded "
                                      "and a sample query.")
    demo.add_argument("--dest-uri", default=_env("DESTINATION_URI") or "duckdb://./demo.db", metavar="URI",
                      help="where to write (default duckdb://./demo.db)")
    demo.add_argument("--projects", type=int, default=10, help="simulated projects (default 10)")
    demo.add_argument("--tasks-per-project", type=int, default=20, help="tasks per project (default 20)")
    demo.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    demo.add_argument("--progress", default=_env("PROGRESS") or "interactive",
                      metavar="{interactive,log}", help="progress display")

    sub.add_parser("setup", help="create the tap's and the loader's environments and exit",
                   description="Create the tap and target environments (done automatically on first use).")
    return parser


def _choice(value: str, choices: tuple[str, ...], flag: str) -> str:
    v = (value or "").strip().lower()
    if v not in choices:
        raise UsageError(f"invalid {flag} {value!r}; choose one of {', '.join(choices)}")
    return v


def plan_from_args(args):
    """All local validation; returns an ingest.Plan.  No I/O, no network."""
    from omniload_cli.ingest import Plan, TablePlan

    if not args.source_table:
        raise UsageError(f"missing --source-table; valid tables: all, {', '.join(tables_mod.TABLES)}")
    tables = tables_mod.parse_table_list(args.source_table)
    source = parse_source_uri(args.source_uri)
    dest = parse_dest_uri(args.dest_uri)
    dest_tables = _dest_tables(tables, args.dest_table, args.dest_schema, dest.default_schema)
    for dest_table in dest_tables:
        check_table_for(dest, dest_table, "--dest-schema" if args.dest_schema else "--dest-table")
    requested = (_choice(args.incremental_strategy, tables_mod.STRATEGIES, "--incremental-strategy")
                 if args.incremental_strategy else None)
    strategies = tables_mod.resolve_strategies(tables, requested)
    progress = _choice(args.progress, ("interactive", "log"), "--progress")
    start = parse_datetime(args.interval_start, "--interval-start") if args.interval_start else None
    end = parse_datetime(args.interval_end, "--interval-end") if args.interval_end else None
    unwindowed = [t.name for t in tables if not t.windowable]
    if (start or end) and unwindowed:
        raise UsageError(f"--interval-start/--interval-end apply only to tasks (filtered on modified_at); "
                         f"{', '.join(repr(n) for n in unwindowed)} "
                         f"{'is' if len(unwindowed) == 1 else 'are'} always extracted in full")
    if start and end and start >= end:
        raise UsageError("--interval-start must be before --interval-end")
    return Plan(source=source, dest=dest,
                tables=tuple(TablePlan(t, dt, s) for t, dt, s in zip(tables, dest_tables, strategies)),
                full_refresh=bool(args.full_refresh), interval_start=start, interval_end=end,
                progress=progress, lock_timeout=parse_lock_timeout(args.lock_timeout))


def _dest_tables(tables, dest_table: str | None, dest_schema: str | None, default_schema: str):
    """--dest-table names one table's destination; --dest-schema the schema
    of every table, each named after its source table."""
    if dest_table and dest_schema:
        raise UsageError("give --dest-table (one table) or --dest-schema (tables named after the "
                         "source tables), not both")
    if dest_table:
        if len(tables) > 1:
            raise UsageError(f"--dest-table names one table, and {len(tables)} are loaded; use "
                             f"--dest-schema (each table named after its source table)")
        return [parse_dest_table(dest_table, tables[0].name, default_schema)]
    if dest_schema:
        if "." in dest_schema:
            raise UsageError(f"invalid --dest-schema {dest_schema[:40]!r}: a schema name, without a table")
        return [parse_dest_table(f"{dest_schema}.{t.name}", t.name) for t in tables]
    return [parse_dest_table(None, t.name, default_schema) for t in tables]


def parse_lock_timeout(value: str | None) -> float:
    from omniload_cli.destinations import DEFAULT_LOCK_TIMEOUT_S

    if value is None or not str(value).strip():
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        seconds = float(value)
        if not 0 <= seconds < float("inf"):
            raise ValueError
    except ValueError:
        raise UsageError(f"invalid --lock-timeout {str(value)[:20]!r}: a number of seconds, "
                         f"0 or more") from None
    return seconds


def _read_argv_from_fd() -> list[str] | None:
    """The ./omniload script, or the console script's first step (entry.py),
    hands us the arguments (and SOURCE_URI, if set) through an unlinked
    private file open as fd OMNILOAD_ARGV_FD rather than argv and environ,
    so a token is not visible in /proc/<pid>/cmdline or /proc/<pid>/environ
    while we run.  The file holds, NUL-separated, the argument count, the
    arguments, then NAME=value entries."""
    fd = os.environ.pop(ARGV_FD, None)
    if not fd:
        return None
    with os.fdopen(int(fd), "rb") as f:
        data = f.read()
    parts = [a.decode("utf-8", "surrogateescape") for a in data.split(b"\0")[:-1]]
    count = int(parts[0])
    for entry in parts[1 + count:]:
        name, _, value = entry.partition("=")
        if name in HANDED_OVER_ENV:
            # Set after exec: not in /proc/<pid>/environ, which shows the
            # environment the process started with.
            os.environ[name] = value
    return parts[1:1 + count]


def secrets_in(texts) -> list[str]:
    """What the arguments and the handed-over variables may hold that no
    message may show, however malformed: the password of a PostgreSQL URI
    (read as the URI parser reads it) and whatever follows a `…token=`."""
    from urllib.parse import unquote
    out = []
    for text in filter(None, texts):
        out += postgres_passwords_in(text)
        for part in text.partition("?")[2].split("&"):
            key, _, value = part.partition("=")
            if key.strip().lower().endswith("token") and value:
                out += [value, unquote(value)]
    return out


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    if argv is None:
        argv = _read_argv_from_fd()
    if argv is None:
        argv = sys.argv[1:]
    scrub = Scrubber(*secrets_in([*argv, *(os.environ.get(k) for k in HANDED_OVER_ENV)]))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "setup":
            from omniload_cli import environments, sources
            environments.setup_all()
            sys.stderr.write(f"omniload: environments are ready in {sources.home() / 'envs'}\n")
            return 0
        if args.command == "demo":
            from omniload_cli import demo
            demo_dest = parse_dest_uri(args.dest_uri)
            if isinstance(demo_dest, PostgresDest):
                named_by = "--dest-uri"
                if args.dest_uri == _env("DESTINATION_URI"):
                    named_by = next(k for k in ("OMNILOAD_DESTINATION_URI", "DESTINATION_URI") if os.environ.get(k))
                raise UsageError(f"the demo writes a DuckDB file (its sample query is DuckDB's), and {named_by} "
                                 f"names a PostgreSQL database: give the demo --dest-uri duckdb://<file>"
                                 f"{'' if named_by == '--dest-uri' else f' (or unset {named_by})'}, and load "
                                 f"PostgreSQL with ingest")
            progress = _choice(args.progress, ("interactive", "log"), "--progress")
            return demo.run(demo_dest, projects=args.projects,
                            tasks_per_project=args.tasks_per_project, seed=args.seed,
                            progress=progress)
        plan = plan_from_args(args)
        scrub = Scrubber(plan.source.access_token,
                         plan.dest.password if isinstance(plan.dest, PostgresDest) else None)
        from omniload_cli import ingest
        summary = ingest.run(plan)
        sys.stdout.write(summary.render())
        sys.stdout.flush()
        return 0
    except OmniloadError as exc:
        sys.stderr.write(f"{PROG}: error: {scrub(exc.message)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; the destination was left as it was\n")
        return Interrupted.exit_code
    except BrokenPipeError:
        return 1
    except OSError as exc:
        # Our own files (temp configs, catalog): a full disk, a bad TMPDIR.
        where = f" ({exc.filename})" if exc.filename else ""
        msg = with_disk_hint(f"a local file operation failed{where}: {exc.strerror or exc}")
        sys.stderr.write(f"{PROG}: error: {scrub(msg)}; the destination was left as it was\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, still scrubbed
        if os.environ.get("OMNILOAD_DEBUG"):
            import traceback
            sys.stderr.write(scrub(traceback.format_exc()))
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(f"{PROG}: error: internal error: {scrub(msg)} (OMNILOAD_DEBUG=1 for details)\n")
        return 1
