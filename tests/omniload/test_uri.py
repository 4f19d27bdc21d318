import os

import pytest

from omniload_cli.errors import UsageError
from omniload_cli.uri import parse_datetime, parse_dest_table, parse_dest_uri, parse_source_uri, to_iso

TOKEN = "2/1204567890123:0a1b2c3d4e5f"


def test_source_uri_with_unencoded_asana_token():
    s = parse_source_uri(f"asana://1204567?access_token={TOKEN}")
    assert (s.workspace_gid, s.access_token) == ("1204567", TOKEN)
    assert TOKEN not in repr(s) and TOKEN not in s.display


def test_source_uri_percent_decoding_and_literal_plus():
    s = parse_source_uri("asana://1?access_token=2%2F12%3Aab+c%2Bd&api_url=http%3A%2F%2F127.0.0.1%3A9%2Fapi")
    assert s.access_token == "2/12:ab+c+d"       # '+' stays a plus
    assert s.api_url == "http://127.0.0.1:9/api"


def test_source_uri_start_date_normalised():
    s = parse_source_uri("asana://1?access_token=x&start_date=2024-01-02")
    assert s.start_date == "2024-01-02T00:00:00Z"


@pytest.mark.parametrize("uri, fragment", [
    (None, "missing --source-uri"),
    ("", "missing --source-uri"),
    ("asaan://1?access_token=x", "unsupported source scheme 'asaan'"),
    ("postgres://x", "unsupported source scheme"),
    ("asana://?access_token=x", "names no workspace"),
    ("asana://123", "no access_token"),
    ("asana://123?access_token=", "no access_token"),
    ("asana://123?acess_token=x", "did you mean access_token?"),
    ("asana://123?access_token=x&strat_date=2024-01-01", "did you mean start_date?"),
    ("asana://12 3?access_token=x", "invalid workspace gid"),
    ("asana://1?access_token=x&start_date=yesterday", "invalid start_date"),
    ("asana://1?access_token=x&api_url=ftp://x", "api_url"),
    ("just-a-string", "must look like"),
])
def test_source_uri_errors(uri, fragment):
    with pytest.raises(UsageError) as e:
        parse_source_uri(uri)
    assert fragment in str(e.value)
    assert e.value.exit_code == 2


@pytest.mark.parametrize("query", [
    "access_token=secret1&secret2", "access_token=secret1&secret2=x", "access_token=s3cr&et2&api_url=x",
    "access_token=abc&secret2Z#frag",
])
def test_source_uri_error_never_echoes_a_tokens_tail(query):
    """A token with a raw '&': what follows it is the token, not a typo."""
    with pytest.raises(UsageError) as e:
        parse_source_uri(f"asana://1?{query}")
    tail = query.split("&", 1)[1].split("=")[0]
    assert tail not in e.value.message and "cr" not in e.value.message
    assert "%26" in e.value.message


def test_source_uri_error_never_echoes_token_in_workspace_position():
    with pytest.raises(UsageError) as e:
        parse_source_uri(f"asana://{TOKEN}")
    assert TOKEN not in str(e.value)


def test_dest_uri_forms(tmp_path):
    cwd = str(tmp_path)
    assert parse_dest_uri("duckdb://./work.db", cwd).path == os.path.join(cwd, "work.db")
    assert parse_dest_uri("duckdb://work.db", cwd).path == os.path.join(cwd, "work.db")
    assert parse_dest_uri("duckdb:///work.db", cwd).path == os.path.join(cwd, "work.db")
    assert parse_dest_uri("duckdb:////abs/path/work.db", cwd).path == "/abs/path/work.db"
    assert parse_dest_uri("duckdb://./my%20dir/w.db", cwd).path == os.path.join(cwd, "my dir", "w.db")


@pytest.mark.parametrize("uri, fragment", [
    ("sqlite:///x.db", "unsupported destination scheme 'sqlite'; use duckdb:// or postgresql://"),
    ("duckdb://", "must be a DuckDB file"),
    ("duckdb:///:memory:", "must be a DuckDB file"),
    ("duckdb://md:foo", "must be a DuckDB file"),
    ("duckdb://./x.db?threads=2", "unknown duckdb destination option"),
    ("work.db", "must look like"),
    (None, "missing --dest-uri"),
])
def test_dest_uri_errors(uri, fragment, tmp_path):
    with pytest.raises(UsageError) as e:
        parse_dest_uri(uri, str(tmp_path))
    assert fragment in str(e.value)


def test_dest_uri_directory_refused_with_an_absolute_hint(tmp_path):
    with pytest.raises(UsageError, match="is a directory") as err:
        parse_dest_uri(f"duckdb:///{tmp_path}", "/")
    hint = err.value.message.rsplit("e.g. ", 1)[1]
    # The suggested URI names a file inside that directory, however it is read.
    assert parse_dest_uri(hint, "/somewhere/else").path == f"{tmp_path}/work.db"
    with pytest.raises(UsageError) as err:
        parse_dest_uri("duckdb://sub/", str(tmp_path))
    assert parse_dest_uri(err.value.message.rsplit("e.g. ", 1)[1], "/").path == f"{tmp_path}/sub/work.db"


def test_dest_uri_storage_version():
    assert parse_dest_uri("duckdb://./w.db", "/x").storage_version == "v1.2.0"
    assert parse_dest_uri("duckdb://./w.db?storage_version=latest", "/x").storage_version == "latest"
    assert parse_dest_uri("duckdb:////a/w.db?storage_version=v1.4.0", "/x").path == "/a/w.db"
    for bad, why in (("?storage_version=1.4", "invalid storage_version"),
                     ("?storage_version=", "invalid storage_version"),
                     ("?storage_version=v1.1.3", "older than v1.2.0, the oldest format"),
                     ("?mode=ro", "unknown duckdb destination option 'mode'")):
        with pytest.raises(UsageError, match=why):
            parse_dest_uri("duckdb://./w.db" + bad, "/x")


def test_dest_table():
    assert parse_dest_table("public.tasks", "tasks").display == "public.tasks"
    assert parse_dest_table("My_Tasks", "tasks").display == "main.my_tasks"
    assert parse_dest_table(None, "users").display == "main.users"
    assert parse_dest_table("s.t", "tasks").stage("ab12") == "_omniload_stage_t_ab12"


@pytest.mark.parametrize("value", [
    "a.b.c", "public.", ".tasks", "public.ta-sks", 'x"; DROP TABLE y; --', "1abc",
    "public.tasks;", "sch ema.t", "_omniload.x", "public._omniload_stage_tasks",
    "information_schema.x", "p.t\u00e9",
])
def test_dest_table_rejects(value):
    with pytest.raises(UsageError, match="invalid --dest-table"):
        parse_dest_table(value, "tasks")


@pytest.mark.parametrize("value, expected", [
    ("2024-01-02", "2024-01-02T00:00:00Z"),
    ("2024-01-02T03:04:05", "2024-01-02T03:04:05Z"),
    ("2024-01-02 03:04:05.123456", "2024-01-02T03:04:05.123456Z"),
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05Z"),
    ("0001-01-01", "0001-01-01T00:00:00Z"),
])
def test_datetimes(value, expected):
    assert to_iso(parse_datetime(value, "x")) == expected


@pytest.mark.parametrize("value", ["notadate", "02/01/2024", "2024-13-01", "2024-01-02T25:00"])
def test_bad_datetimes(value):
    with pytest.raises(UsageError, match="invalid --interval-start"):
        parse_datetime(value, "--interval-start")


# --- PostgreSQL destinations ---------------------------------------------------
PG_PASSWORD = "pa:ss/w@rd&x#"     # needs percent-encoding everywhere
PG_ENCODED = "pa%3Ass%2Fw%40rd%26x%23"


def test_postgres_uri_as_ingestr_writes_it():
    d = parse_dest_uri(f"postgresql://omni:{PG_ENCODED}@db.internal:5433/analytics?sslmode=require")
    assert (d.host, d.port, d.database, d.user, d.password) == ("db.internal", 5433, "analytics", "omni", PG_PASSWORD)
    assert d.params == (("sslmode", "require"),)
    assert d.conninfo() == {"dbname": "analytics", "port": 5433, "host": "db.internal", "user": "omni",
                            "password": PG_PASSWORD, "sslmode": "require"}
    assert PG_PASSWORD not in repr(d) and PG_ENCODED not in d.display and "pa" not in d.display
    assert d.display == "postgresql://omni@db.internal:5433/analytics"
    assert d.default_schema == "public"


@pytest.mark.parametrize("uri, host, port, database, user", [
    ("postgres://u:p@h/db", "h", 5432, "db", "u"),                          # the short scheme, port 5432
    ("POSTGRESQL://u@h:6000/db", "h", 6000, "db", "u"),                     # no password: .pgpass / trust
    ("postgresql://u:p@/db?host=%2Fvar%2Frun%2Fpostgresql", "/var/run/postgresql", 5432, "db", "u"),
    ("postgresql://u:p@/db?host=/tmp/sock&port=5433", "/tmp/sock", 5433, "db", "u"),
    ("postgresql://u:p@[::1]:5433/db", "::1", 5433, "db", "u"),
    ("postgresql:///db", None, 5432, "db", None),                            # libpq's default socket
    ("postgresql://u%40corp:p@h/my%20db", "h", 5432, "my db", "u@corp"),    # decoded names
])
def test_postgres_uri_forms(uri, host, port, database, user):
    d = parse_dest_uri(uri)
    assert (d.host, d.port, d.database, d.user) == (host, port, database, user)
    assert parse_dest_uri(d.display) == type(d)(d.host, d.port, d.database, d.user, None, d.params)


def test_postgres_plus_stays_a_plus_in_the_password():
    assert parse_dest_uri("postgresql://u:a+b%2Bc@h/db").password == "a+b+c"


@pytest.mark.parametrize("uri, fragment", [
    ("postgresql://u:SECRETPW@h:5432", "names no database"),
    ("postgresql://u:SECRETPW@h/", "names no database"),
    ("postgresql://u:SECRETPW@h/a/b", "may not contain '/'"),
    ("postgresql://u:SECRETPW@h:54x/db", "invalid port"),
    ("postgresql://u:SECRETPW@h:70000/db", "invalid port"),
    ("postgresql://u:SECRETPW/db", "invalid port"),                        # '@' forgotten: no echo
    ("postgresql://u:SECRETPW@h/db?sslmod=require", "did you mean sslmode?"),
    ("postgresql://u:SECRETPW@h/db?sslmode=sometimes", "invalid sslmode"),
    ("postgresql://u:SECRETPW@h/db?connect_timeout=soon", "invalid connect_timeout"),
    ("postgresql://u:SECRETPW%ff@h/db", "not percent-encoded UTF-8"),
    ("postgresql://u:SECRETPW@[::1/db", "IPv6 address in brackets"),
    ("postgresql://u:SECRET#PW@h/db", "must be percent-encoded as %23"),
    ("postgresql://u:SECRETPW@h/db?application_name=x", "omniload names its sessions itself"),
    ("postgresql://u:SECRETPW@h/db?password=SECRETPW", "put the password after the user"),
    ("postgresql://:SECRETPW@h/db", "a password but no user name"),
    ("postgresql://u:SECRETPW@h/db?host=/tmp", "names a host twice"),
    ("postgresql://u:SECRETPW@h:1/db?port=2", "names a port twice"),
    ("postgresql://u:SECRETPW@h!x/db", "invalid host"),
    ("postgresql://u:SECRETPW@/db?host=rel/dir", "invalid ?host="),
    ("postgresql://u:SECRETPW@h/db?sslmode", "has no value"),
    ("postgresql://u:SECRETPW@h/db?sslmode=require&sslmode=disable", "sets sslmode twice"),
    ("postgresql://u:SECRET&PW@h/db?x", "does not know"),
    ("postgresql://u:SECRETPW@h/d%00b", "NUL character"),
    ("mysql://u:SECRETPW@h/db", "unsupported destination scheme 'mysql'"),
])
def test_postgres_uri_errors_never_show_the_password(uri, fragment):
    with pytest.raises(UsageError) as e:
        parse_dest_uri(uri)
    assert fragment in e.value.message
    assert "SECRET" not in e.value.message and "PW" not in e.value.message
    assert "\n" not in e.value.message


def test_bare_dest_table_takes_the_destination_default_schema():
    assert parse_dest_table("tasks", "tasks", "public").display == "public.tasks"
    assert parse_dest_table(None, "users", "public").display == "public.users"


def test_postgres_table_names_that_postgres_would_cut_are_refused():
    from omniload_cli.uri import check_table_for

    pg = parse_dest_uri("postgresql://u@h/db")
    check_table_for(pg, parse_dest_table("public." + "t" * 38, "tasks"))
    with pytest.raises(UsageError, match="too long for PostgreSQL"):
        check_table_for(pg, parse_dest_table("public." + "t" * 39, "tasks"))
    check_table_for(parse_dest_uri("duckdb:///x.db", "/"), parse_dest_table("public." + "t" * 80, "tasks"))


@pytest.mark.parametrize("flag, value, says", [
    ("--dest-schema", "s" * 64, "--dest-schema sss"),
    ("--dest-table", "s" * 64 + ".tasks", "--dest-table sss"),
    ("--dest-table", "public." + "t" * 39, "--dest-table public.ttt"),
])
def test_a_name_too_long_for_postgres_is_blamed_on_the_flag_that_gave_it(flag, value, says):
    from omniload_cli.cli import build_parser, plan_from_args

    args = build_parser().parse_args(["ingest", "--source-uri", "asana://1?access_token=t", "--source-table",
                                      "tasks", "--dest-uri", "postgresql://u@h/db", flag, value])
    with pytest.raises(UsageError) as e:
        plan_from_args(args)
    assert e.value.message.startswith(says) and "too long for PostgreSQL" in e.value.message
    assert ("a schema name has at most 63" in e.value.message) == value.startswith("s")
