"""The PostgreSQL destination: a database on a server, filled by target-postgres-omniload.

omniload holds ONE connection for the whole run (connection.py): it takes
the run's advisory locks (run_lock.py), looks at the destination before the
load (the tables, their rights, the stored bookmarks, stages a killed run
left: `prepare`), publishes every stage and bookmark in one transaction
(publish.py) and, after a failure, drops what the run created (`undo`).
The loader connects on its own and fills only this run's stages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

from omniload_cli.destinations import (
    DEFAULT_LOCK_TIMEOUT_S,
    STATE_SCHEMA,
    STATE_TABLE,
    Destination,
    PreRun,
    PublishRequest,
    PublishResult,
    TableBefore,
    not_a_table,
    undo_warning,
)
from omniload_cli.errors import DestinationError
from omniload_cli.uri import STAGE_PREFIX, DestTable, PostgresDest

# The loader's batches: singer-sdk's default is 10,000 records, which costs
# ~60 MB of decoded Asana tasks in the loader for no measurable speed-up.
BATCH_SIZE_ROWS = 2000


class PostgresDestination(Destination):
    loader = "postgres"
    database_kind = "PostgreSQL"

    def __init__(self, dest: PostgresDest) -> None:
        self.dest = dest
        self.display = dest.display
        self._con = None
        self._wait_s = DEFAULT_LOCK_TIMEOUT_S      # --lock-timeout (run_lock)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.dest.password,) if self.dest.password else ()

    def check_local(self) -> None:
        host = self.dest.host
        if host and host.startswith("/") and not os.path.isdir(host):
            raise DestinationError(f"cannot reach PostgreSQL for {self.dest.where}: the socket directory "
                                   f"{host} does not exist")

    def _connect(self):
        from omniload_cli.destinations.postgres import connection

        return connection.connect(self.dest)

    @contextmanager
    def run_lock(self, tables: Sequence[DestTable], timeout_s: float,
                 on_wait: Callable[[str], None]) -> Iterator[None]:
        """The run's locks, on the connection every later step uses."""
        from omniload_cli.destinations.postgres.run_lock import AdvisoryRunLock

        self._wait_s = timeout_s
        lock = AdvisoryRunLock(self._connect, tables, self.display, timeout_s=timeout_s, on_wait=on_wait)
        self._con = lock.acquire()
        try:
            yield
        finally:
            self._con = None
            lock.release()

    @property
    def con(self):
        if self._con is None or self._con.closed:
            # Outside the lock (undo after a lost connection): a fresh session.
            self._con = self._connect()
        return self._con

    def prepare(self, tables: Sequence[DestTable]) -> PreRun:
        from psycopg import sql

        from omniload_cli.destinations.postgres import catalog, state

        con = self.con
        try:
            # The server's name for the database: a pooler (pgbouncer) may
            # know it under another, the URI's.
            dbname = con.execute("SELECT current_database()").fetchone()[0]
            before = {}
            for table in tables:
                kind = catalog.relation_kind(con, table.schema, table.table)
                if kind not in (None, "table"):
                    raise not_a_table(table, kind, self.display)
                before[table] = TableBefore(existed=kind == "table", stored=None,
                                            schema_existed=catalog.schema_exists(con, table.schema),
                                            identity=catalog.table_identity(con, table.schema, table.table))
            # Before reading the bookmarks: the role may not be allowed to.
            self._check_rights(con, dbname, before)
            for table, b in before.items():
                b.stored = state.read_state(con, table.display)
            for schema in sorted({t.schema for t, b in before.items() if not b.schema_existed}):
                # Created here rather than by the loader: runs on other tables
                # of a new schema would race on it.
                with con.transaction():
                    con.execute("SELECT pg_advisory_xact_lock(%s, %s)", _schema_key(schema))
                    con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(catalog.ident(schema)))
            # Under this run's locks, a stage of one of its tables is a killed run's.
            for table in tables:
                for stage in catalog.stages_of(con, table.schema, f"{STAGE_PREFIX}{table.table}_"):
                    catalog.drop_table(con, table.schema, stage)
        except DestinationError:
            raise
        except Exception as exc:  # noqa: BLE001 - any server error: one line
            raise DestinationError(f"cannot read the destination {self.display}: {' '.join(str(exc).split())}") \
                from None
        return PreRun(before, catalog_name=dbname)

    def _check_rights(self, con, dbname: str, before: dict[DestTable, TableBefore]) -> None:
        """What the run will need, asked before the load: a clear line now
        rather than a failed publish after the whole extract (or a raw
        "permission denied" while reading the bookmarks)."""
        from omniload_cli.destinations.postgres import catalog

        role = con.execute("SELECT current_user").fetchone()[0]
        who, database = catalog.sql_name(con, role), catalog.sql_name(con, dbname)
        where = f"{self.dest.where}"
        needs_database = [t.schema for t, b in before.items() if not b.schema_existed]
        if not catalog.schema_exists(con, STATE_SCHEMA):
            needs_database.append(STATE_SCHEMA)
        if needs_database and not catalog.may(con, "database", dbname, "CREATE"):
            raise DestinationError(
                f"role {role!r} may not create schemas in {where} (omniload needs "
                f"{', '.join(sorted(set(needs_database)))}); as its owner: "
                f"GRANT CREATE ON DATABASE {database} TO {who}, or create the schemas for it")
        if not catalog.may(con, "database", dbname, "TEMP"):
            raise DestinationError(
                f"role {role!r} may not create temporary tables in {where} (the loader stages each batch in "
                f"one); GRANT TEMP ON DATABASE {database} TO {who}")
        if catalog.schema_exists(con, STATE_SCHEMA):
            self._check_state_rights(con, role, where)
        for table, b in before.items():
            if b.schema_existed and not (catalog.may(con, "schema", table.schema, "CREATE")
                                         and catalog.may(con, "schema", table.schema, "USAGE")):
                raise DestinationError(
                    f"role {role!r} may not create tables in schema {table.schema!r} of {where}; as its owner: "
                    f"GRANT USAGE, CREATE ON SCHEMA {catalog.sql_name(con, table.schema)} TO {who}")
            if b.existed:
                name = f"{catalog.ident(table.schema, table.table).as_string(con)}"
                missing = [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
                           if not catalog.may(con, "table", name, p)]
                if missing:
                    raise DestinationError(
                        f"role {role!r} may not {', '.join(missing)} rows of {table.display} in {where}; "
                        f"GRANT {', '.join(missing)} ON {name} TO {who}")

    @staticmethod
    def _check_state_rights(con, role: str, where: str) -> None:
        """_omniload, where every role of the database keeps its bookmarks
        (the first run's role created it): the rights to read and write them."""
        from omniload_cli.destinations.postgres import catalog

        grants = []
        if not catalog.may(con, "schema", STATE_SCHEMA, "USAGE"):
            grants.append(f"USAGE ON SCHEMA {STATE_SCHEMA}")
        oid = catalog.table_identity(con, STATE_SCHEMA, STATE_TABLE)   # by name it needs that USAGE
        if oid is not None:
            missing = [p for p in ("SELECT", "INSERT", "UPDATE") if not catalog.may(con, "table", oid, p)]
            if missing:
                grants.append(f"{', '.join(missing)} ON {STATE_SCHEMA}.{STATE_TABLE}")
        elif not catalog.may(con, "schema", STATE_SCHEMA, "CREATE"):
            grants.append(f"CREATE ON SCHEMA {STATE_SCHEMA}")
        if grants:
            owner = catalog.schema_owner(con, STATE_SCHEMA)
            who = catalog.sql_name(con, role)
            raise DestinationError(
                f"role {role!r} may not read and write the bookmarks in schema {STATE_SCHEMA} of {where} (shared "
                f"by every role of the database; role {owner!r} created it); as {owner!r}: "
                + "; ".join(f"GRANT {g} TO {who}" for g in grants))

    def loader_config(self, schema: str, pre: PreRun, scratch: Path) -> dict:
        d = self.dest
        auth = ""
        if d.user:
            auth = quote(d.user, safe="") + (f":{quote(d.password, safe='')}" if d.password is not None else "") + "@"
        host = "" if d.host is None or d.host.startswith("/") else (f"[{d.host}]" if ":" in d.host else d.host)
        query = dict(d.params)
        if d.host and d.host.startswith("/"):
            query["host"] = d.host
        query["application_name"] = f"omniload loader (pid {os.getpid()})"
        url = f"postgresql+psycopg://{auth}{host}:{d.port}/{quote(d.database, safe='')}?{urlencode(query)}"
        return {
            "sqlalchemy_url": url,
            "default_target_schema": schema,
            "use_copy": True,                     # COPY FROM STDIN: bench/RESULTS.md
            "add_record_metadata": False,         # an exact copy: Asana's columns only
            "activate_version": False,            # every stage is new: nothing to deactivate
            "validate_records": False,            # the tap's records conform to its own schemas
            "batch_size_rows": BATCH_SIZE_ROWS,
        }

    def publish(self, requests: Sequence[PublishRequest]) -> list[PublishResult]:
        from omniload_cli.destinations.postgres import publish

        return publish.publish(self.con, requests, self._wait_s)

    def undo(self, stages: Sequence[tuple[DestTable, str]], pre: PreRun | None) -> str | None:
        if pre is None:
            return None
        from psycopg import sql

        from omniload_cli.destinations.postgres import catalog

        try:
            con = self.con
            for table, stage in stages:
                if catalog.table_exists(con, table.schema, stage):    # DROP ... IF EXISTS fails on a read-only server
                    catalog.drop_table(con, table.schema, stage)
            for schema in sorted({t.schema for t, b in pre.tables.items() if not b.schema_existed}):
                with con.transaction():
                    con.execute("SELECT pg_advisory_xact_lock(%s, %s)", _schema_key(schema))
                    if catalog.schema_exists(con, schema) and not con.execute(
                            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = %s LIMIT 1", (schema,)).fetchone():
                        con.execute(sql.SQL("DROP SCHEMA {}").format(catalog.ident(schema)))
        except Exception as exc:  # noqa: BLE001 - best effort: a warning, never a failure
            return undo_warning(stages, exc, "the next run on their tables")
        return None


def _schema_key(schema: str) -> tuple[int, int]:
    from omniload_cli.destinations.postgres.run_lock import key

    return key(f"schema {schema}")
