"""The PostgreSQL destination end to end, where it differs from DuckDB:
its URIs, its connection and rights errors, and what a replace leaves of
a table (views, grants, indexes).  Against a real PostgreSQL 15 server
(tests/postgres_server.py) and the simulator; what means the same on both
destinations is tested on both in test_e2e.py and test_all_tables.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import pgbouncer
from tests.dest_reader import columns, execute, query, snapshot, stages
from tests.expected import expected_gids
from tests.omniload.support import REPO, SECRET_PART, TOKEN, clean_env, make_sim, run_omniload, source_uri
from tests.postgres_server import ROLE, ROLE_PASSWORD, Database
from tests.postgres_server import SECRET_PART as PG_SECRET
from tests.reliability.support import (
    assert_clean_error,
    cmdline,
    descendants,
    omniload_python,
    start,
    stopped,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim():
    s = make_sim(projects=2, tasks_per_project=4, seed=21)
    yield s
    s.stop()


def one_line_error(r, code: int, fragment: str) -> str:
    out = r.stdout + r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert r.returncode == code, out
    assert len(lines) == 1 and lines[0].startswith("omniload: error: "), out
    assert fragment in lines[0], out
    assert "Traceback" not in out
    for secret in (PG_SECRET, SECRET_PART, "w%2Frd"):
        assert secret not in out, out
    return lines[0]


def ingest_to(sim, uri: str, table="users", *extra, dest_table=None):
    return run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", table, "--dest-uri", uri,
                        *(["--dest-table", dest_table] if dest_table else []), "--progress", "log", *extra,
                        timeout=300)


# --- URIs ------------------------------------------------------------------------------
def test_both_uri_forms_and_both_schemes_load(sim, pg_server, pg_db, omniload_ready):
    for uri in (pg_server.uri(pg_db.name, via="tcp"), pg_server.uri(pg_db.name, via="socket"),
                pg_server.uri(pg_db.name, via="tcp", scheme="postgres", query="sslmode=disable")):
        r = ingest_to(sim, uri, "users")
        assert r.returncode == 0, r.stderr
        assert PG_SECRET not in r.stdout + r.stderr
    assert {g for (g,) in query(pg_db, "SELECT gid FROM public.users")} == expected_gids(sim, "users")
    # The summary names the server, never the password.
    assert f"postgresql://{ROLE}@127.0.0.1:{pg_server.port}/{pg_db.name} -> public.users" in r.stdout


@pytest.mark.parametrize("uri, fragment", [
    ("postgresql://omni:w%2Frd@h:5432", "names no database"),
    ("postgresql://omni:w%2Frd@h:99999/db", "invalid port"),
    ("postgresql://omni:w%2Frd@h/db?sslmode=maybe", "invalid sslmode"),
    ("postgresql://omni:w%2Frd@h/db?sslmod=require", "did you mean sslmode?"),
    ("postgresql://omni:w/rd#x@h/db", "percent-encoded as %23"),
    ("postgresql://omni:w%2Frd@/db?host=/nonexistent-socket-dir", "socket directory /nonexistent-socket-dir"),
])
def test_bad_uris_fail_in_one_line_before_any_request(sim, uri, fragment, omniload_ready):
    sim.reset_request_log()
    r = ingest_to(sim, uri)
    one_line_error(r, 1 if "socket directory" in fragment else 2, fragment)
    assert sim.request_count() == 0


def test_a_mistyped_flag_echoed_by_argparse_does_not_show_the_password(sim, pg_db, omniload_ready):
    r = run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", "users",
                     "--dest-url", pg_db.uri)
    one_line_error(r, 2, "unrecognized arguments: --dest-url")


def test_a_bare_dest_table_goes_to_schema_public(sim, pg_db, omniload_ready):
    r = ingest_to(sim, pg_db.uri, "tags", dest_table="labels")
    assert r.returncode == 0, r.stderr
    assert query(pg_db, "SELECT count(*) FROM public.labels")[0][0] == len(expected_gids(sim, "tags"))


# --- connecting and rights: one line each, nothing changed --------------------------------
def _closed_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wrong_password(sim, pg_server, pg_db, omniload_ready):
    sim.reset_request_log()
    r = ingest_to(sim, pg_server.uri(pg_db.name, password="w/rong" + PG_SECRET))
    line = one_line_error(r, 1, f"PostgreSQL refused the password of user '{ROLE}'")
    assert f"'{pg_db.name}' on 127.0.0.1:{pg_server.port}" in line
    assert sim.request_count() == 0 and snapshot(pg_db) == {}


def test_unreachable_server(sim, pg_server, omniload_ready):
    uri = f"postgresql://{ROLE}:x@127.0.0.1:{_closed_port()}/analytics"
    line = one_line_error(ingest_to(sim, uri), 1, "cannot reach PostgreSQL for database 'analytics' on 127.0.0.1:")
    assert "refused" in line.lower()
    # A host name that resolves to nothing (.invalid never does).
    uri = f"postgresql://{ROLE}:x@no-such-host.invalid:5432/analytics"
    one_line_error(ingest_to(sim, uri), 1,
                   "cannot reach PostgreSQL for database 'analytics' on no-such-host.invalid:5432")


def test_missing_database(sim, pg_server, omniload_ready):
    r = ingest_to(sim, pg_server.uri("no_such_db"))
    one_line_error(r, 1, f"database 'no_such_db' on 127.0.0.1:{pg_server.port} does not exist")
    assert not pg_server.admin("SELECT 1 FROM pg_database WHERE datname = 'no_such_db'")


@pytest.fixture
def weak_role(pg_server):
    """A role that may connect and nothing more; a database it does not own."""
    name = f"weak_{time.monotonic_ns() % 10**8}"
    pg_server.create_role(name, "weak-pass")
    db = pg_server.create_database(owner="postgres")
    pg_server.admin("CREATE SCHEMA theirs", database=db)
    pg_server.admin("CREATE TABLE theirs.users (gid text PRIMARY KEY, name text)", database=db)
    pg_server.admin(f'GRANT USAGE, CREATE ON SCHEMA theirs TO "{name}"', database=db)
    pg_server.admin(f'GRANT SELECT ON theirs.users TO "{name}"', database=db)
    # Where omniload keeps bookmarks the role may write: the checks below are the tables'.
    pg_server.admin(f'CREATE SCHEMA _omniload AUTHORIZATION "{name}"', database=db)
    return name, Database(pg_server, db)


@pytest.mark.parametrize("dest_table, fragment", [
    ("public.users", "may not create tables in schema 'public'"),
    ("fresh.users", "may not create schemas in database"),
    ("theirs.users", "may not INSERT, UPDATE, DELETE rows of theirs.users"),
])
def test_a_role_without_rights(sim, pg_server, weak_role, dest_table, fragment, omniload_ready):
    role, db = weak_role
    before = snapshot(db)
    sim.reset_request_log()
    r = ingest_to(sim, pg_server.uri(db.name, user=role, password="weak-pass"), "users", dest_table=dest_table)
    one_line_error(r, 1, f"role '{role}' {fragment}")
    assert sim.request_count() == 0
    assert snapshot(db) == before
    assert not pg_server.admin("SELECT 1 FROM pg_namespace WHERE nspname = 'fresh'", database=db.name)


def test_a_role_that_does_not_own_a_table_that_needs_a_new_column_is_told_how(sim, pg_server, weak_role,
                                                                               omniload_ready):
    # It may read and write the rows: the run goes as far as the publish,
    # where only the owner may add the columns the table lacks.
    role, db = weak_role
    pg_server.admin(f'GRANT INSERT, UPDATE, DELETE ON theirs.users TO "{role}"', database=db.name)
    before = snapshot(db)
    r = ingest_to(sim, pg_server.uri(db.name, user=role, password="weak-pass"), "users", dest_table="theirs.users")
    line = one_line_error(r, 1, "theirs.users needs new columns (")
    assert f"run as 'postgres', or make '{role}' the owner (ALTER TABLE theirs.users OWNER TO {role})" in line
    assert "nothing was changed" in line
    assert snapshot(db) == before


def test_a_role_without_temp_tables(sim, pg_server, weak_role, omniload_ready):
    role, db = weak_role
    pg_server.admin(f'REVOKE TEMP ON DATABASE "{db.name}" FROM PUBLIC')
    r = ingest_to(sim, pg_server.uri(db.name, user=role, password="weak-pass"), "users", dest_table="theirs.new")
    one_line_error(r, 1, f"role '{role}' may not create temporary tables")


def test_a_second_role_is_told_the_grants_it_needs_on_the_shared_bookmarks(sim, pg_server, pg_db, omniload_ready):
    """_omniload belongs to the role of the database's first run; another
    role gets the GRANTs that let it in, before anything is read (was: a
    raw "permission denied for schema _omniload")."""
    assert ingest_to(sim, pg_db.uri, "users").returncode == 0
    role = f"second_{time.monotonic_ns() % 10**8}"
    pg_server.create_role(role, "second-pass")
    execute(pg_db, f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"')
    uri = pg_server.uri(pg_db.name, user=role, password="second-pass")
    sim.reset_request_log()
    line = one_line_error(ingest_to(sim, uri, "tags"), 1,
                          f"role '{role}' may not read and write the bookmarks in schema _omniload of ")
    grants = line.split(f"as '{ROLE}': ")[1]
    assert grants == (f"GRANT USAGE ON SCHEMA _omniload TO {role}; "
                      f"GRANT SELECT, INSERT, UPDATE ON _omniload._state TO {role}")
    assert sim.request_count() == 0
    execute(pg_db, *grants.split("; "))                  # what the line says, as it says it
    r = ingest_to(sim, uri, "tags")
    assert r.returncode == 0, r.stderr
    assert {t for (t,) in query(pg_db, "SELECT dest_table FROM _omniload._state")} == {"public.users", "public.tags"}


def test_behind_pgbouncer_under_another_name(sim, pg_server, pg_db, omniload_ready):
    """The rights checks ask about the database the server has connected
    (current_database()), not the name in the URI, a pooler's alias."""
    bouncer = pgbouncer.start(pg_server, {"warehouse": pg_db.name})
    try:
        r = ingest_to(sim, bouncer.uri("warehouse"), "users", dest_table="fresh.users")
    finally:
        bouncer.stop()
    assert r.returncode == 0, r.stderr
    assert f"postgresql://{ROLE}@127.0.0.1:{bouncer.port}/warehouse -> fresh.users" in r.stdout
    assert {g for (g,) in query(pg_db, "SELECT gid FROM fresh.users")} == expected_gids(sim, "users")


def test_a_failed_first_run_into_a_new_schema_leaves_nothing(sim, pg_db, omniload_ready):
    sim.faults.fail_from(1, status=500)
    try:
        r = run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", "tasks", "--dest-uri",
                         pg_db.uri, "--dest-table", "fresh.tasks", env=clean_env(
                             OMNILOAD_TAP_SETTINGS=json.dumps({"max_tries": 1})), timeout=300)
    finally:
        sim.faults.clear()
    one_line_error(r, 1, "")
    assert snapshot(pg_db) == {}
    assert not query(pg_db, "SELECT nspname FROM pg_namespace WHERE nspname IN ('fresh', '_omniload')")


def test_a_failing_loader_is_reported_by_its_own_error_line(sim, pg_server, pg_db, omniload_ready):
    """Not by SQLAlchemy's "(Background on this error at: …)" trailer."""
    uri = pg_server.uri(pg_db.name, query="options=-c%20default_transaction_read_only%3Don")
    line = one_line_error(ingest_to(sim, uri, "users"), 1, "loading into PostgreSQL failed "
                          "(target-postgres-omniload exit 1): InternalError: (psycopg.errors.ReadOnlySql"
                          "Transaction) cannot execute CREATE TABLE in a read-only transaction; nothing was changed")
    assert "Background" not in line and "[SQL:" not in line
    assert snapshot(pg_db) == {}


def test_a_nul_character_postgresql_cannot_store_fails_the_run_in_one_line(sim, pg_db, omniload_ready):
    """README: PostgreSQL has no NUL in text or jsonb; such a record fails
    the run, nothing changed (the previous copy stays)."""
    assert ingest_to(sim, pg_db.uri, "tasks").returncode == 0
    before = snapshot(pg_db)
    task = sorted(expected_gids(sim, "tasks"))[0]
    sim.store.edit_task(task, name="before\x00after")
    line = one_line_error(ingest_to(sim, pg_db.uri, "tasks"), 1, "nothing was changed")
    assert "cannot contain NUL" in line
    assert snapshot(pg_db) == before


def test_a_view_under_the_table_s_name_is_refused(sim, pg_db, omniload_ready):
    execute(pg_db, "CREATE VIEW public.users AS SELECT '1'::text AS gid")
    one_line_error(ingest_to(sim, pg_db.uri, "users", dest_table="public.users"), 2, "public.users is a view in ")
    assert query(pg_db, "SELECT * FROM public.users") == [("1",)]


# --- what a replace does to the table ------------------------------------------------------
def test_replace_keeps_views_grants_indexes_and_comments(sim, pg_server, pg_db, omniload_ready):
    assert ingest_to(sim, pg_db.uri, "projects", dest_table="public.projects").returncode == 0
    reader = f"reader_{time.monotonic_ns() % 10**8}"
    pg_server.create_role(reader, "r")
    execute(pg_db, "CREATE VIEW public.project_names AS SELECT gid, name FROM public.projects",
            "CREATE INDEX projects_by_name ON public.projects (name)",
            f'GRANT SELECT ON public.projects TO "{reader}"',
            "COMMENT ON TABLE public.projects IS 'ours'")
    gone, renamed = sorted(expected_gids(sim, "projects"))[:2]
    sim.store.delete_project(gone)
    sim.store.rename("projects", renamed, "Renamed by the test")
    r = ingest_to(sim, pg_db.uri, "projects", dest_table="public.projects")
    assert r.returncode == 0, r.stderr
    # The view shows the new rows, the grant, index and comment are still there.
    names = dict(query(pg_db, "SELECT gid, name FROM public.project_names"))
    assert set(names) == expected_gids(sim, "projects") and names[renamed] == "Renamed by the test"
    assert pg_server.admin(f"SELECT has_table_privilege('{reader}', 'public.projects', 'SELECT')",
                           database=pg_db.name) == [(True,)]
    assert query(pg_db, "SELECT indexname FROM pg_indexes WHERE tablename = 'projects' ORDER BY 1") == \
        [("projects_by_name",), ("projects_pkey",)]
    assert query(pg_db, "SELECT obj_description('public.projects'::regclass)") == [("ours",)]
    assert not stages(pg_db)


def test_replace_keeps_the_rows_a_user_s_foreign_keys_point_to(sim, pg_db, omniload_ready):
    """Replace makes the table's rows the stage's in place: the rows Asana
    still has are updated, never deleted, so a user's foreign keys to them
    hold, ON DELETE CASCADE takes nothing that is still there, and the
    user's own columns keep their values.  A row Asana no longer has goes
    (with what cascades from it); held by a plain foreign key, it stops the
    run, nothing changed."""
    assert ingest_to(sim, pg_db.uri, "users").returncode == 0
    kept, gone, held = sorted(expected_gids(sim, "users"))[:3]
    execute(pg_db, "ALTER TABLE public.users ADD COLUMN team_role text",
            f"UPDATE public.users SET team_role = 'lead' WHERE gid = '{kept}'",
            "CREATE TABLE public.reviews (id serial PRIMARY KEY, reviewer text NOT NULL REFERENCES public.users)",
            "CREATE TABLE public.pins (user_gid text REFERENCES public.users ON DELETE CASCADE, note text)",
            f"INSERT INTO public.reviews (reviewer) VALUES ('{kept}')",
            f"INSERT INTO public.pins VALUES ('{kept}', 'stays'), ('{gone}', 'goes with its user')")
    sim.store.rename("users", kept, "Renamed in Asana")
    sim.store.delete_user(gone)
    r = ingest_to(sim, pg_db.uri, "users")
    assert r.returncode == 0, r.stderr
    assert {g for (g,) in query(pg_db, "SELECT gid FROM public.users")} == expected_gids(sim, "users")
    assert query(pg_db, "SELECT name, team_role FROM public.users WHERE gid = ?", kept) == \
        [("Renamed in Asana", "lead")]
    assert query(pg_db, "SELECT user_gid, note FROM public.pins") == [(kept, "stays")]
    assert query(pg_db, "SELECT reviewer FROM public.reviews") == [(kept,)]
    execute(pg_db, f"INSERT INTO public.reviews (reviewer) VALUES ('{held}')")
    sim.store.delete_user(held)
    before = snapshot(pg_db)
    line = one_line_error(ingest_to(sim, pg_db.uri, "users"), 1, "publishing public.users failed, nothing was changed")
    assert 'violates foreign key constraint "reviews_reviewer_fkey"' in line
    assert snapshot(pg_db) == before


def test_readers_see_the_old_rows_unblocked_while_a_replace_publishes(sim, pg_db, omniload_ready):
    """Paused inside the publish transaction (rows deleted and inserted,
    not committed): another session reads the old copy at once."""
    assert ingest_to(sim, pg_db.uri, "users", dest_table="public.users").returncode == 0
    old = sorted(query(pg_db, "SELECT gid, name FROM public.users"))
    sim.store.rename("users", old[0][0], "Renamed while publishing")
    proc = start(sim, pg_db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-commit:pause"})
    pid = omniload_python(proc)
    try:
        wait_for(lambda: stopped(pid) or proc.poll() is not None, timeout=120)
        got: list = []
        reader = threading.Thread(
            target=lambda: got.append(sorted(query(pg_db, "SELECT gid, name FROM public.users"))))
        reader.start()
        reader.join(timeout=10)
        assert got == [old], "a reader was blocked, or saw the uncommitted rows"
    finally:
        os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert ("Renamed while publishing",) in query(pg_db, "SELECT name FROM public.users")


def test_a_new_column_waits_for_the_table_s_readers_in_short_turns(sim, pg_db, omniload_ready):
    """Adding a column needs a moment alone with the table, which a reader in
    a long transaction holds off.  The run tries in short attempts, so other
    readers are held up for half a second at most, for --lock-timeout
    seconds, then fails with nothing changed; once the reader is done, the
    next run adds it."""
    assert ingest_to(sim, pg_db.uri, "users").returncode == 0
    execute(pg_db, "ALTER TABLE public.users DROP COLUMN email")      # as if the tap had added the field since
    before = snapshot(pg_db)
    slowest: list[float] = []
    done = threading.Event()

    def other_reader():
        with pg_db.connect() as con:
            while not done.is_set():
                started = time.monotonic()
                con.execute("SELECT count(*) FROM public.users").fetchall()
                slowest.append(time.monotonic() - started)
                time.sleep(0.05)

    with pg_db.connect(autocommit=False) as long_reader:
        long_reader.execute("SELECT count(*) FROM public.users").fetchall()   # holds the table until it ends
        watcher = threading.Thread(target=other_reader)
        watcher.start()
        try:
            r = ingest_to(sim, pg_db.uri, "users", "--lock-timeout", "3")
        finally:
            done.set()
            watcher.join(timeout=30)
        long_reader.rollback()
    one_line_error(r, 1, "new columns for public.users could not be added: for 3 s other sessions' queries")
    assert snapshot(pg_db) == before
    assert slowest and max(slowest) < 2.0, max(slowest)
    assert ingest_to(sim, pg_db.uri, "users").returncode == 0
    assert "email" in columns(pg_db, "public.users")


def test_column_types_a_postgres_user_expects(sim, pg_db, omniload_ready):
    assert ingest_to(sim, pg_db.uri, "tasks", dest_table="public.tasks").returncode == 0
    kinds = columns(pg_db, "public.tasks")
    assert not [c for c in kinds if c.startswith("_sdc")]
    expected = {"gid": "text", "name": "text", "completed": "boolean", "num_likes": "bigint",
                "actual_time_minutes": "numeric", "due_on": "date", "modified_at": "timestamp with time zone",
                "assignee": "jsonb", "memberships": "jsonb", "tags": "jsonb", "custom_fields": "jsonb"}
    assert {c: kinds[c] for c in expected} == expected
    assert set(kinds.values()) <= {"text", "boolean", "bigint", "numeric", "date", "timestamp with time zone",
                                   "jsonb"}
    # Arrays are one jsonb value: JSON operators work on them.
    n = query(pg_db, "SELECT count(*) FROM public.tasks WHERE jsonb_typeof(memberships) = 'array' "
                     "AND memberships->0->'project'->>'gid' IS NOT NULL")[0][0]
    assert n == len(expected_gids(sim, "tasks"))


@pytest.mark.parametrize("handed", ["in DESTINATION_URI", "as --dest-uri, with OMNILOAD_DEBUG=1"])
def test_the_password_is_in_no_process_and_nowhere_stored(sim, pg_db, tmp_path, omniload_ready, handed):
    """/proc/*/cmdline and /proc/*/environ of omniload, the tap and the loader
    while they run: neither the token nor the database password; the run's
    private dir is 0700 and removed; nothing in the database holds either,
    nor the output (with OMNILOAD_DEBUG, the children's own log lines too)."""
    sim.faults.set_latency(100)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = clean_env(TMPDIR=tmpdir, SOURCE_URI=source_uri(sim),
                    OMNILOAD_TAP_SETTINGS=json.dumps({"page_size": 2, "concurrency": 1}))
    args = ["./omniload", "ingest", "--source-table", "tasks", "--dest-table", "public.tasks", "--progress", "log"]
    if handed == "in DESTINATION_URI":
        env["DESTINATION_URI"] = pg_db.uri
    else:
        args += ["--dest-uri", pg_db.uri]
        env["OMNILOAD_DEBUG"] = "1"
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()
    try:
        pid = omniload_python(proc)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            for p in [pid, *descendants(pid)]:
                try:
                    raw = Path(f"/proc/{p}/cmdline").read_bytes() + Path(f"/proc/{p}/environ").read_bytes()
                except OSError:
                    continue
                for secret in (PG_SECRET, ROLE_PASSWORD, "w%2Frd", SECRET_PART, TOKEN):
                    assert secret.encode() not in raw, (p, cmdline(p), secret)
                name = cmdline(p)
                seen.update(k for k in ("tap-asana", "target-postgres-omniload", "envs/omniload") if k in name)
            time.sleep(0.05)
    finally:
        sim.faults.set_latency(0)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert seen == {"tap-asana", "target-postgres-omniload", "envs/omniload"}, seen
    assert PG_SECRET not in out + err and SECRET_PART not in out + err
    if env.get("OMNILOAD_DEBUG"):
        assert "[target]" in err and "[tap]" in err      # the children's lines were there to leak
    assert list(tmpdir.iterdir()) == []
    for name, (_, rows) in snapshot(pg_db).items():
        assert PG_SECRET not in repr(rows) and SECRET_PART not in repr(rows), name


def _tcp_timers(pid: int, server_port: int) -> dict[str, tuple[int, int]]:
    """The kernel's timer (kind, hundredths of a second left) on each end of
    process pid's TCP connections to server_port (/proc/net/tcp): kind 2 is
    a keepalive timer."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    ends = {}
    for row in rows:
        local, remote, timer, inode = int(row[1].split(":")[1], 16), int(row[2].split(":")[1], 16), row[5], row[9]
        if inode in inodes and remote == server_port:
            ends["omniload"] = (local, timer)
    timers = {}
    for row in rows:
        local, remote, timer = int(row[1].split(":")[1], 16), int(row[2].split(":")[1], 16), row[5]
        if local == server_port and remote == ends["omniload"][0]:
            timers["server"] = timer
    timers["omniload"] = ends["omniload"][1]
    return {end: (int(t.split(":")[0], 16), int(t.split(":")[1], 16)) for end, t in timers.items()}


def test_omniload_s_session_outlasts_a_quiet_load_and_a_dead_peer_is_noticed(sim, pg_server, pg_db,
                                                                            omniload_ready):
    """omniload's session (it holds the run's lock) idles while the loader
    loads: a server's idle_session_timeout (here 1 s, on the database)
    shorter than that must not end the run.  Both ends of that session keep
    it alive with TCP keepalives every 30 s, so a server gone, or omniload's
    host gone (and its locks with it), is noticed in about 90 s, not the
    kernel's 2 hours."""
    execute(pg_db, f"ALTER DATABASE \"{pg_db.name}\" SET idle_session_timeout = '1s'")
    proc = start(sim, pg_db, "users", env_extra={"OMNILOAD_TEST_HOOK": "before-load:pause"})
    pid = omniload_python(proc)
    try:
        wait_for(lambda: stopped(pid) or proc.poll() is not None, timeout=120)
        started = time.monotonic()
        # (A timer of another kind runs for a moment after the last packet.)
        def keepalives():
            found = {end: left for end, (kind, left) in _tcp_timers(pid, pg_server.port).items() if kind == 2}
            return found if len(found) == 2 else None

        timers = wait_for(keepalives, timeout=5)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))
    finally:
        os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert {g for (g,) in query(pg_db, "SELECT gid FROM public.users")} == expected_gids(sim, "users")
    assert set(timers) == {"omniload", "server"} and all(0 < left <= 3000 for left in timers.values()), timers


# --- a table changed under a run -------------------------------------------------------------
def test_an_incremental_run_whose_table_was_dropped_meanwhile_publishes_nothing(sim, pg_db, omniload_ready):
    """Its stage holds only the changes: published into the dropped table's
    place it would leave a table of those alone, for good (the bookmark
    says the table is whole).  Refused; the next run extracts it whole."""
    assert ingest_to(sim, pg_db.uri, "tasks", dest_table="public.tasks").returncode == 0
    state = query(pg_db, "SELECT state FROM _omniload._state")
    sim.store.edit_task(sorted(expected_gids(sim, "tasks"))[0], name="edited under a dropped table")
    proc = start(sim, pg_db, "tasks", env_extra={"OMNILOAD_TEST_HOOK": "before-publish:pause"})
    pid = omniload_python(proc)
    try:
        wait_for(lambda: stopped(pid) or proc.poll() is not None, timeout=120)
        execute(pg_db, "DROP TABLE public.tasks")
    finally:
        os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    assert_clean_error(err, out, "refusing to publish public.tasks: public.tasks was dropped during the load")
    assert "nothing was changed" in err and proc.returncode == 1
    assert query(pg_db, "SELECT state FROM _omniload._state") == state
    assert not query(pg_db, "SELECT 1 FROM pg_tables WHERE tablename = 'tasks'") and not stages(pg_db)
    r = ingest_to(sim, pg_db.uri, "tasks", dest_table="public.tasks")
    assert r.returncode == 0 and "no longer exists; ignoring its stored bookmark (full extract)" in r.stderr
    assert {g for (g,) in query(pg_db, "SELECT gid FROM public.tasks")} == expected_gids(sim, "tasks")


# --- what the children get -------------------------------------------------------------------
# Stands in front of the tap or the loader: writes down the environment and
# arguments it was started with, then becomes the real program.
_SPY = """#!{python}
import json, os, sys
with open(os.path.join({where!r}, f"seen-{{os.getpid()}}.json"), "w") as f:
    json.dump({{"environ": dict(os.environ), "argv": sys.argv}}, f)
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def _spied_run(tmp_path, env: dict, *args) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """./omniload ingest with the tap and the loader spied on: its result,
    and what each child process was started with."""
    envs = REPO / ".omniload" / "envs"
    for variable, real in (("OMNILOAD_TAP_EXECUTABLE", envs / "tap" / "bin" / "tap-asana"),
                           ("OMNILOAD_TARGET_EXECUTABLE",
                            envs / "target-postgres" / "bin" / "target-postgres-omniload")):
        spy = tmp_path / f"{real.name}-spy"
        spy.write_text(_SPY.format(python=sys.executable, where=str(tmp_path), real=str(real)))
        spy.chmod(0o755)
        env[variable] = str(spy)
    r = subprocess.run(["./omniload", "ingest", "--progress", "log", *args], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    return r, [json.loads(p.read_text()) for p in sorted(tmp_path.glob("seen-*.json"))]


def test_the_children_get_no_variable_carrying_the_password_and_every_other(sim, pg_server, tmp_path,
                                                                          omniload_ready):
    """A password as short as "bin" (in every PATH): the variables that
    carry it (a URI, PGPASSWORD) stay out of the tap's and the loader's
    environment, PATH and the rest go in.  Their configs (the token, the
    password) come as /dev/fd/N, in memory, never a file."""
    role = f"short_{time.monotonic_ns() % 10**8}"
    pg_server.create_role(role, "bin")
    db = Database(pg_server, pg_server.create_database(owner=role))
    env = clean_env(SOURCE_URI=source_uri(sim), DESTINATION_URI=pg_server.uri(db.name, user=role, password="bin"),
                    PGPASSWORD="bin", MY_DATABASE_URL=f"postgresql://{role}:bin@db.internal/x", BINDIR="/opt/bin")
    r, seen = _spied_run(tmp_path, env, "--source-table", "users")
    assert r.returncode == 0, r.stderr
    assert {Path(s["argv"][0]).name for s in seen} == {"tap-asana-spy", "target-postgres-omniload-spy"}
    for s in seen:
        environ = s["environ"]
        assert "bin" in environ["PATH"] and environ["PATH"] == env["PATH"] and environ["BINDIR"] == "/opt/bin"
        assert not {"PGPASSWORD", "MY_DATABASE_URL", "DESTINATION_URI", "SOURCE_URI"} & set(environ)
        assert not [v for v in environ.values() if v == "bin" or ":bin@" in v or TOKEN in v]
        assert s["argv"][s["argv"].index("--config") + 1].startswith("/dev/fd/")

