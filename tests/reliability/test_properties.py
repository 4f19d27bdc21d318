"""Property-based tests over everything a user types: flags, URIs, table
names, dates, environment variables.

- omniload never prints a traceback; a bad input exits 2 with ONE line that
  says what to fix (and never echoes the token);
- nothing in a user-supplied name reaches SQL unquoted: names are either
  refused or used as exactly that identifier, and no injected SQL runs.

Most examples call omniload_cli.cli.main() in-process with the network step
(ingest.run) replaced by a recorder, so hundreds of inputs take seconds; a
few go through the real ./omniload script.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import string
from unittest import mock

import duckdb
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from omniload_cli import cli
from omniload_cli.destinations import PublishRequest, Sent
from omniload_cli.destinations.duckdb import DuckDBDestination, catalog, publish
from omniload_cli.errors import OmniloadError, UsageError
from omniload_cli.ingest import tap_settings_override
from omniload_cli.uri import DestTable, DuckDBDest, parse_dest_table
from tests.duckdb_reader import connect, query
from tests.omniload.support import clean_env, run_omniload

TOKEN = "2/1201111111111:propSECRETtok"
SECRET = "propSECRETtok"
ENV_NAMES = ("SOURCE_URI", "SOURCE_TABLE", "DESTINATION_URI", "DESTINATION_TABLE",
             "INCREMENTAL_STRATEGY", "INTERVAL_START", "INTERVAL_END", "FULL_REFRESH",
             "SKIP_CONFIRMATION", "PROGRESS")
# What an error line must point at: a flag, a URI part, or the fix itself.
FIX_HINT = re.compile(r"--[a-z]|URI|uri|e\.g\.|use |choose|valid|must|expected|names|only|"
                      r"apply|makes no sense|see omniload", re.I)
FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- strategies -------------------------------------------------------------
nasty = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=40)
sqlish = st.text(alphabet=string.ascii_letters + string.digits + "_.\"'`;-() *=/\\[]%é", max_size=30)
ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
tables = st.sampled_from(["tasks", "stories", "users", "projects", "sections", "tags", "teams",
                          "workspaces", "Tasks", " users ", "task", "", "tasks;drop"]) | nasty
strategies_ = st.sampled_from(["replace", "merge", "append", "MERGE", "", "upsert"]) | nasty
dates = st.one_of(
    nasty,
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(lambda d, off: d.isoformat() + off, st.datetimes(),
              st.sampled_from(["Z", "z", "+00:00", "+14:00", "-12:00", "+25:00", "+01:30:15"])),
    st.dates().map(str),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-02-30",
                     "2024-01-01 10:00", "20240101", "2024-13-01", "now"]),
)
params = st.lists(st.tuples(st.sampled_from(["access_token", "api_url", "start_date", "acess_token",
                                             "", "x%3D"]) | nasty,
                            st.sampled_from([TOKEN, "http://127.0.0.1:9", "https://x", "ftp://x",
                                             "2024-01-01", "%ZZ", "+"]) | nasty),
                  max_size=4)
source_uris = st.one_of(
    st.builds(lambda scheme, ws, ps: f"{scheme}://{ws}?" + "&".join(f"{k}={v}" for k, v in ps),
              st.sampled_from(["asana", "ASANA", "asaan", "http", ""]) | nasty,
              st.sampled_from(["1200000000001", "", "12/34", TOKEN]) | nasty, params),
    nasty,
)
dest_uris = st.one_of(
    st.builds(lambda scheme, path: f"{scheme}://{path}",
              st.sampled_from(["duckdb", "DuckDB", "postgres", ""]),
              st.sampled_from(["./w.db", "w.db", "/w.db", "//tmp/w.db", "", ":memory:", "md:x",
                               "./nodir/", "./x.db?threads=1", "%2e/w.db", "."]) | nasty),
    nasty,
)
dest_tables = st.one_of(ident, st.builds(lambda a, b: f"{a}.{b}", ident, ident), sqlish, nasty)


def _flag_args(draw_map: dict) -> list[str]:
    args = []
    for flag, value in draw_map.items():
        if value is True:
            args.append(flag)
        elif value is not None:
            args += [flag, value]
    return args


VALID_SRC = f"asana://1200000000001?access_token={TOKEN}&api_url=http://127.0.0.1:9"


def mostly(valid, hostile):
    """The valid value 4 times in 5: so that whole command lines are often
    valid and single bad fields get tested in otherwise good company."""
    return st.integers(0, 4).flatmap(lambda i: valid if i else hostile)


ABSENT = st.none()
ingest_args = st.fixed_dictionaries({
    "--source-uri": mostly(st.just(VALID_SRC), source_uris),
    "--source-table": mostly(st.sampled_from(["tasks", "stories", "users"]), tables),
    "--dest-uri": mostly(st.just("duckdb://./w.db"), dest_uris),
    "--dest-table": mostly(ABSENT | ident | st.builds(lambda a, b: f"{a}.{b}", ident, ident),
                           dest_tables),
    "--incremental-strategy": mostly(ABSENT, strategies_),
    "--interval-start": mostly(ABSENT, dates),
    "--interval-end": mostly(ABSENT, dates),
    "--progress": mostly(ABSENT | st.just("log"), st.sampled_from(["interactive", "fancy"]) | nasty),
    "--full-refresh": st.sampled_from([None, True]),
    "--yes": st.sampled_from([None, True]),
    "--bogus-flag": mostly(ABSENT, st.just(True)),
}).map(_flag_args)
env_values = st.fixed_dictionaries({}, optional={
    (prefix + name): (source_uris if name == "SOURCE_URI" else
                      dest_uris if name == "DESTINATION_URI" else
                      dest_tables if name == "DESTINATION_TABLE" else
                      dates if name.startswith("INTERVAL") else nasty)
    for name in ENV_NAMES for prefix in ("", "OMNILOAD_")
}).map(lambda d: {k: v for k, v in d.items() if "\x00" not in v})


# --- running cli.main in-process ---------------------------------------------
@contextlib.contextmanager
def environment(values: dict, cwd):
    saved = dict(os.environ)
    old_cwd = os.getcwd()
    try:
        for k in list(os.environ):
            if k in ENV_NAMES or k.startswith("OMNILOAD_"):
                del os.environ[k]
        os.environ.update(values)
        os.chdir(cwd)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(old_cwd)


class _Done:
    def render(self):
        return "done\n"


def run_main(argv, env, cwd):
    plans = []
    out, err = io.StringIO(), io.StringIO()
    with environment(env, cwd), mock.patch("omniload_cli.ingest.run",
                                           lambda plan: plans.append(plan) or _Done()), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue(), plans


ACCEPTED = []


def check_outcome(rc, out, err, plans):
    ACCEPTED.append(rc == 0)
    assert "Traceback" not in out + err
    assert SECRET not in out + err
    if rc == 0:
        assert len(plans) == 1 and err == ""
        plan = plans[0]
        for tp in plan.tables:
            for name in (tp.dest_table.schema, tp.dest_table.table):
                assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
        assert plan.source.access_token.strip() and plan.dest.path.startswith("/")
        return
    assert not plans, "a rejected input still reached the run"
    assert rc == 2, (rc, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("omniload: error: "), err
    assert "internal error" not in lines[0], err
    assert FIX_HINT.search(lines[0]), f"says nothing about what to fix: {lines[0]}"


@FAST
@given(args=ingest_args)
@example(args=["--source-uri", f"asana://1?access_token={TOKEN}", "--source-table", "tasks",
               "--dest-uri", "duckdb://./w.db", "--interval-start", "0001-01-01T00:00:00+01:00"])
@example(args=["--source-uri", f"asana://{TOKEN}", "--source-table", "tasks",
               "--dest-uri", "duckdb://./w.db"])
def test_ingest_flags_never_crash(tmp_path, args):
    check_outcome(*run_main(["ingest", *args], {}, tmp_path))


@FAST
@given(env=env_values, args=ingest_args)
def test_environment_variables_never_crash(tmp_path, env, args):
    check_outcome(*run_main(["ingest", *args], env, tmp_path))


def test_the_generators_also_produce_valid_inputs():
    """(Runs after the two above.) Some generated inputs were accepted, so
    the properties were checked on both sides."""
    if ACCEPTED:
        assert 0 < sum(ACCEPTED) < len(ACCEPTED), (sum(ACCEPTED), len(ACCEPTED))
        print(f"accepted {sum(ACCEPTED)} of {len(ACCEPTED)}")


@FAST
@given(argv=st.lists(st.sampled_from(["ingest", "demo", "setup", "--yes", "-y", "--progress",
                                      "--seed", "x", "--projects", "-1", "--", "-", "--dest-uri",
                                      "ingestt"]) | nasty, max_size=5))
def test_any_argv_never_crashes(tmp_path, argv):
    assume(not {"-h", "--help"} & set(argv))
    assume("demo" not in argv or "--dest-uri" not in argv)   # demo would really run
    if argv and argv[0] in ("demo", "setup") and not any(a.startswith("-") for a in argv[1:]):
        return                                               # valid commands that do work
    with mock.patch("omniload_cli.demo.run", lambda *a, **k: 0):
        rc, out, err, plans = run_main(argv, {}, tmp_path)
    assert "Traceback" not in out + err
    if rc != 0:
        assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("omniload: error: "), err


@FAST
@given(raw=nasty | st.sampled_from(['{"page_size": 2}', "[]", "null", '{"access_token": "x"}', "{", "1"]))
def test_tap_settings_env(raw):
    with environment({"OMNILOAD_TAP_SETTINGS": raw}, os.getcwd()):
        try:
            out = tap_settings_override()
        except OmniloadError as exc:
            assert exc.exit_code == 2 and "OMNILOAD_TAP_SETTINGS" in exc.message
        else:
            assert isinstance(out, dict) and "access_token" not in out and "api_url" not in out


# --- names never reach SQL unquoted --------------------------------------------
def _fresh_db(path):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE main.canary (x INTEGER)")
    con.execute("INSERT INTO main.canary VALUES (42)")
    con.close()


def _publish_into(db, schema, table):
    """What omniload does to a destination: prepare, (stage), publish."""
    dest = DuckDBDest(str(db), f"duckdb:///{db}")
    dt = DestTable(schema, table)
    stage = dt.stage("feed")
    DuckDBDestination(dest).prepare([dt])
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {catalog.q(schema)}")
        con.execute(f"CREATE TABLE {catalog.qualified(schema, stage)} (gid VARCHAR PRIMARY KEY, name VARCHAR)")
        con.execute(f"INSERT INTO {catalog.qualified(schema, stage)} VALUES ('1', 'a')")
        publish.publish(con, [PublishRequest(
            table=dt, stage=stage, strategy="merge", key="gid", rebuild=False, state_key=dt.display,
            source="asana://1/tasks", state={"x": table}, sent=Sent(1, True))])
    finally:
        con.close()


def _assert_only_that_table(db, schema, table):
    con = connect(db)
    try:
        assert query(con, "SELECT x FROM main.canary") == [(42,)]
        got = set(query(con, "SELECT schema_name, table_name FROM duckdb_tables()"))
        assert got == {("main", "canary"), (schema, table), ("_omniload", "_state")}, got
        assert query(con, f"SELECT gid, name FROM {catalog.qualified(schema, table)}") == [("1", "a")]
    finally:
        con.close()


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@given(value=dest_tables)
@example(value='x"; DROP TABLE main.canary; --')
@example(value="main.canary")
def test_dest_table_is_refused_or_exactly_that_table(tmp_path_factory, value):
    try:
        dt = parse_dest_table(value, "tasks")
    except UsageError as exc:
        assert "--dest-table" in exc.message
        return
    assume(dt.display != "main.canary")       # (a valid name for an existing table)
    db = tmp_path_factory.mktemp("names") / "w.db"
    _fresh_db(db)
    _publish_into(db, dt.schema, dt.table)
    _assert_only_that_table(db, dt.schema, dt.table)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=st.text(alphabet=string.ascii_letters + "\"'; -()é`", min_size=1, max_size=12),
       table=st.text(alphabet=string.ascii_letters + "\"'; -()é`", min_size=1, max_size=12))
@pytest.mark.slow
@example(schema='s"; DROP TABLE main.canary; --', table="t")
@example(schema="s", table="t'); DROP TABLE main.canary; --")
def test_publish_quotes_any_identifier(tmp_path_factory, schema, table):
    """Defence in depth: even names the CLI would refuse are used verbatim
    as identifiers by the DuckDB destination, never as SQL."""
    assume(schema.lower() not in ("main", "_omniload", "information_schema", "pg_catalog", "temp"))
    db = tmp_path_factory.mktemp("quoted") / "w.db"
    _fresh_db(db)
    _publish_into(db, schema, table)
    _assert_only_that_table(db, schema, table)


# --- the real script, a few times ---------------------------------------------
@pytest.mark.parametrize("dest_table, env", [
    ('x"; DROP TABLE canary; --', {}),
    (None, {"OMNILOAD_DESTINATION_TABLE": "t;DELETE FROM canary"}),
    (None, {"INTERVAL_START": "9999-12-31T23:59:59-01:00"}),
])
def test_real_script_rejects_cleanly(omniload_ready, tmp_path, dest_table, env):
    db = tmp_path / "w.db"
    _fresh_db(db)
    args = ["ingest", "--source-table", "tasks", "--dest-uri", f"duckdb:///{db}"]
    if dest_table is not None:
        args += ["--dest-table", dest_table]
    r = run_omniload(*args, env=clean_env(SOURCE_URI=f"asana://1?access_token={TOKEN}", **env),
                     cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("omniload: error: ") and FIX_HINT.search(lines[0]), r.stderr
    assert "Traceback" not in r.stderr and SECRET not in r.stderr + r.stdout
    assert query(db, "SELECT x FROM canary") == [(42,)]
