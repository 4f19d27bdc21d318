"""Every bad input: the right exit code, ONE line on stderr, no traceback, no
token -- all detected before any network call (the URIs point nowhere)."""

import duckdb
import pytest

from tests.duckdb_reader import query
from tests.omniload.support import clean_env, run_omniload

TOKEN = "2/1209999999999:deadbeefcafe0123456789"
GOOD_SRC = f"asana://1200000000001?access_token={TOKEN}&api_url=http://127.0.0.1:9"


def check_error(r, code, fragment):
    out = r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, out
    assert len(lines) == 1, out
    assert lines[0].startswith("omniload: error: "), out
    assert fragment in lines[0], out
    assert "Traceback" not in out
    assert TOKEN not in out and "deadbeefcafe" not in out


def ingest(tmp_path, *extra, src=GOOD_SRC, table="tasks", dest=None):
    args = ["ingest"]
    if src is not None:
        args += ["--source-uri", src]
    if table is not None:
        args += ["--source-table", table]
    args += ["--dest-uri", dest or f"duckdb:///{tmp_path}/w.db", *extra]
    return run_omniload(*args, cwd=tmp_path)


@pytest.mark.parametrize("kw, extra, fragment", [
    (dict(src=f"asaan://1?access_token={TOKEN}"), [], "unsupported source scheme 'asaan'"),
    (dict(src=f"asana://?access_token={TOKEN}"), [], "names no workspace"),
    (dict(src="asana://1200000000001"), [], "no access_token"),
    (dict(src=f"asana://{TOKEN}"), [], "invalid workspace gid"),
    (dict(src=None), [], "missing --source-uri"),
    (dict(table="foo"), [], "unknown source table 'foo'; valid tables: workspaces, projects, sections"),
    (dict(table=None), [], "missing --source-table"),
    (dict(dest="mysql://x/y"), [], "unsupported destination scheme 'mysql'"),
    (dict(dest="duckdb://"), [], "must be a DuckDB file"),
    (dict(), ["--dest-table", "a.b.c"], "invalid --dest-table"),
    (dict(), ["--dest-table", 'x"; DROP TABLE y; --'], "invalid --dest-table"),
    (dict(), ["--dest-table", "_omniload._state"], "reserved"),
    (dict(), ["--incremental-strategy", "bogus"], "invalid --incremental-strategy 'bogus'"),
    (dict(table="users"), ["--incremental-strategy", "append"], "append makes no sense for 'users'"),
    (dict(), ["--interval-start", "notadate"], "invalid --interval-start 'notadate'"),
    (dict(), ["--interval-end", "2024-99-01"], "invalid --interval-end"),
    (dict(), ["--interval-start", "2024-02-01", "--interval-end", "2024-01-01"], "must be before"),
    (dict(table="users"), ["--interval-start", "2024-01-01"], "apply only to tasks"),
    (dict(), ["--progress", "fancy"], "invalid --progress 'fancy'"),
    (dict(), ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_usage_errors_exit_2(omniload_ready, tmp_path, kw, extra, fragment):
    r = ingest(tmp_path, *extra, **kw)
    check_error(r, 2, fragment)
    assert not (tmp_path / "w.db").exists()       # nothing created


@pytest.mark.parametrize("args, shown, secret", [
    # A password with a raw '@' (the URI parser ends the userinfo at the last one).
    (["--dest-urx", "postgresql://omni:abcd@SECRETTAIL@h/db"], "unrecognized arguments: --dest-urx (its value",
     "SECRETTAIL"),
    (["--dest-urx", "postgresql://omni:pass word SECRETTAIL@h/db"], "unrecognized arguments: --dest-urx", "SECRETTAIL"),
    # Too short for the scrubber (it would blank every 'ab7' of a message): never echoed.
    (["--dest-urx", "postgresql://omni:ab7@h/db"], "unrecognized arguments: --dest-urx", ":ab7@"),
    (["--source-urx", "asana://123?access_token=2/123:SECRETTOKEN"], "unrecognized arguments: --source-urx",
     "SECRETTOKEN"),
    (["--dest=postgresql://omni:SECRETPW@h/db"], "ambiguous option: --dest could match --dest-uri", "SECRETPW"),
    (["--yes=SECRETPW"], "argument --yes/-y: takes no value", "SECRETPW"),
    (["--lock-timeout", "5", "SECRETPW"], "unrecognized arguments (not repeated here", "SECRETPW"),
])
def test_usage_errors_name_flags_and_never_repeat_a_value(omniload_ready, tmp_path, args, shown, secret):
    r = ingest(tmp_path, *args)
    check_error(r, 2, shown)
    assert secret not in r.stdout + r.stderr
    top = run_omniload(f"postgresql://omni:{secret}@h/db")           # an URI where the command goes
    check_error(top, 2, "invalid choice (not repeated here) (choose from 'ingest', 'demo', 'setup')")
    assert secret not in top.stderr


def test_secrets_in_reads_passwords_as_the_uri_parser_does():
    from omniload_cli.cli import secrets_in
    from omniload_cli.secrets import Scrubber

    for text, secret in [("--dest-urx=postgresql://omni:abcd@SECRETTAIL@h/db", "abcd@SECRETTAIL"),
                         ("postgres://omni:pass word SECRET@h/db", "pass word SECRET"),
                         ("postgresql://omni:p%40ss%2Fw0rd@h:5/db?sslmode=require", "p@ss/w0rd"),
                         ("asana://123?api_url=x&access_token=2/123:SECRETTOKEN", "2/123:SECRETTOKEN")]:
        assert secret in secrets_in([text])
        assert "SECRET" not in Scrubber(*secrets_in([text]))(f"echoed: {text}")


def test_destination_directory_missing(omniload_ready, tmp_path):
    check_error(ingest(tmp_path, dest=f"duckdb:///{tmp_path}/nope/w.db"), 1, "does not exist")


def test_destination_not_a_database(omniload_ready, tmp_path):
    (tmp_path / "w.db").write_text("this is not duckdb\n" * 100)
    check_error(ingest(tmp_path), 2, "is not a DuckDB database")
    (tmp_path / "w.db").write_bytes(b"")
    check_error(ingest(tmp_path), 2, "is an empty file, not a DuckDB database")


def test_a_view_under_the_table_s_name_is_refused_before_the_extract(omniload_ready, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.db"))
    con.execute("CREATE SCHEMA public; CREATE VIEW public.tasks AS SELECT 1 AS gid")
    con.close()
    r = ingest(tmp_path, "--dest-table", "public.tasks")   # the API URL answers nobody
    check_error(r, 2, "public.tasks is a view in ")
    assert "_omniload_stage" not in r.stderr
    assert query(tmp_path / "w.db", "SELECT * FROM public.tasks") == [(1,)]


def test_destination_unwritable(omniload_ready, tmp_path):
    check_error(ingest(tmp_path, dest="duckdb:////proc/omniload-test/w.db"), 1, "does not exist")
    check_error(ingest(tmp_path, dest="duckdb:////proc/w.db"), 1, "destination")


def test_destination_locked(omniload_ready, tmp_path):
    holder = duckdb.connect(str(tmp_path / "w.db"))
    try:
        r = ingest(tmp_path)
    finally:
        holder.close()
    check_error(r, 1, "is locked by another process")


def test_env_vars_and_prefix(omniload_ready, tmp_path):
    env = clean_env(SOURCE_URI=GOOD_SRC, SOURCE_TABLE="tasks",
                    DESTINATION_URI=f"duckdb:///{tmp_path}/w.db", OMNILOAD_SOURCE_TABLE="nope")
    r = run_omniload("ingest", env=env, cwd=tmp_path)
    check_error(r, 2, "unknown source table 'nope'")   # OMNILOAD_ wins over the bare name
    env["OMNILOAD_INCREMENTAL_STRATEGY"] = "bogus"
    env["OMNILOAD_SOURCE_TABLE"] = "tasks"
    check_error(run_omniload("ingest", env=env, cwd=tmp_path), 2, "invalid --incremental-strategy")


@pytest.mark.parametrize("variable", ["DESTINATION_URI", "OMNILOAD_DESTINATION_URI"])
def test_the_demo_says_which_variable_names_a_postgres_database(omniload_ready, tmp_path, variable):
    r = run_omniload("demo", env=clean_env(**{variable: "postgresql://u:SECRETPW@h/db"}), cwd=tmp_path)
    check_error(r, 2, f"and {variable} names a PostgreSQL database: give the demo --dest-uri duckdb://<file> "
                      f"(or unset {variable})")
    assert "SECRETPW" not in r.stderr and not list(tmp_path.iterdir())
    r = run_omniload("demo", "--dest-uri", "postgresql://u@h/db", cwd=tmp_path)
    check_error(r, 2, "and --dest-uri names a PostgreSQL database: give the demo --dest-uri duckdb://<file>, and")


def test_help_explains_tables_and_strategies(omniload_ready):
    r = run_omniload("ingest", "--help")
    assert r.returncode == 0
    for word in ("workspaces", "stories", "replace", "merge", "append", "_omniload._state",
                 "--full-refresh", "SOURCE_URI", "OMNILOAD_", "literal plus", "duckdb:////abs"):
        assert word in r.stdout
    top = run_omniload("--help")
    assert top.returncode == 0 and "demo" in top.stdout and "tasks" in top.stdout
