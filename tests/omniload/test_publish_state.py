"""Each destination's publish and state table against a real database (a
DuckDB file, a PostgreSQL server; no loader involved).  The same scenarios,
the same meaning on both: the `con` fixture is a connection as the
destination's publish gets it, `dest` the modules that work on it."""

import types

import duckdb
import psycopg
import pytest

from omniload_cli.bookmarks import bookmark_of
from omniload_cli.destinations import PublishRequest, Sent, StageMismatch, TableBefore
from omniload_cli.destinations import duckdb as duckdb_destination
from omniload_cli.destinations import postgres as postgres_destination
from omniload_cli.errors import UsageError
from omniload_cli.tables import TABLES, get_table, resolve_strategy
from omniload_cli.uri import DestTable
from tests.postgres_server import ROLE, ROLE_PASSWORD

STAGE = "_omniload_stage_tasks"


def _modules(package) -> types.SimpleNamespace:
    import importlib

    return types.SimpleNamespace(**{m: importlib.import_module(f"{package.__name__}.{m}")
                                    for m in ("catalog", "publish", "state")})


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request):
    return request.param


@pytest.fixture
def con(kind, tmp_path, request):
    if kind == "duckdb":
        c = duckdb.connect(str(tmp_path / "w.db"))
    else:
        db = request.getfixturevalue("pg_db")
        # As omniload's own session: autocommit, transactions explicit, UTC.
        c = psycopg.connect(host=db.server.socket_dir, port=db.server.port, dbname=db.name,
                            user=ROLE, password=ROLE_PASSWORD, autocommit=True)
    c.execute("CREATE SCHEMA public" if kind == "duckdb" else "CREATE SCHEMA IF NOT EXISTS public")
    yield c
    c.close()


@pytest.fixture
def dest(kind):
    """catalog, publish and state of the destination under test."""
    return _modules(duckdb_destination if kind == "duckdb" else postgres_destination)


def run(con, sql, *params):
    """A statement with ? placeholders on either connection; its rows."""
    if isinstance(con, psycopg.Connection):
        cur = con.execute(sql.replace("?", "%s"), params or None)
        return cur.fetchall() if cur.description else []
    return con.execute(sql, list(params)).fetchall()


def make_stage(con, rows, cols="gid VARCHAR PRIMARY KEY, name VARCHAR"):
    # What the loaders leave behind: a table with PK(gid).
    run(con, f"CREATE TABLE public.{STAGE} ({cols})")
    for r in rows:
        run(con, f"INSERT INTO public.{STAGE} VALUES ({', '.join('?' * len(r))})", *r)


def rows(con, table="tasks"):
    return [tuple(r) for r in run(con, f"SELECT * FROM public.{table} ORDER BY gid")]


def sent_for(con, stage=STAGE, schema="public"):
    """What a loader that wrote this stage was sent: its rows, and a SCHEMA."""
    if not DEST.catalog.table_exists(con, schema, stage):
        return Sent(0, False)
    return Sent(DEST.catalog.count_rows(con, schema, stage), True)


# The destination's modules for the test being run (the autouse fixture sets
# them), so the helpers and tests read the same whichever it is.
DEST = types.SimpleNamespace()


@pytest.fixture(autouse=True)
def _dest_of_this_test(dest):
    DEST.__dict__.update(dest.__dict__)


def do(con, strategy, st=None, **kw):
    sent = kw.pop("sent", None) or sent_for(con)
    return DEST.publish.publish(con, [PublishRequest(
        table=DestTable("public", "tasks"), stage=STAGE, strategy=strategy, key="gid",
        rebuild=kw.pop("rebuild", False), state_key=kw.pop("state_key", "public.tasks"),
        source="asana://1/tasks", state=st, sent=sent, **kw)])[0]


def test_replace_creates_then_swaps(con):
    make_stage(con, [("1", "a"), ("2", "b")])
    r = do(con, "replace", {"bookmarks": {"tasks": {"replication_key_value": "t1"}}})
    assert (r.rows_loaded, r.rows_in_table, r.created) == (2, 2, True)
    make_stage(con, [("2", "B")])
    r = do(con, "replace", {"bookmarks": {"tasks": {"replication_key_value": "t2"}}})
    assert rows(con) == [("2", "B")] and not r.created
    assert not DEST.catalog.table_exists(con, "public", STAGE)
    src, st = DEST.state.read_state(con, "public.tasks")
    assert src == "asana://1/tasks" and bookmark_of(st, "tasks") == "t2"


def test_merge_upserts_and_adds_new_columns(con):
    make_stage(con, [("1", "a"), ("2", "b")])
    do(con, "merge")
    make_stage(con, [("2", "b2", 7), ("3", "c", 8)], "gid VARCHAR PRIMARY KEY, name VARCHAR, n INTEGER")
    r = do(con, "merge")
    assert rows(con) == [("1", "a", None), ("2", "b2", 7), ("3", "c", 8)]
    assert (r.rows_loaded, r.rows_in_table) == (2, 3)


def test_merge_deletes_what_the_tap_sent_tombstones_for_in_the_same_transaction(con):
    make_stage(con, [("1", "a"), ("2", "b"), ("3", "c")])
    do(con, "merge")
    make_stage(con, [("2", "b2")])
    sent = Sent(1, True, ("1", "9"))   # 9: never loaded, nothing to delete
    r = do(con, "merge", sent=sent)
    assert rows(con) == [("2", "b2"), ("3", "c")]
    assert (r.rows_loaded, r.rows_removed, r.rows_in_table) == (1, 1, 2)
    make_stage(con, [("3", "c2")])
    with pytest.raises(TypeError):   # the state fails to store after the delete: all rolled back
        do(con, "merge", {"not json": object()}, sent=Sent(1, True, ("2",)))
    assert rows(con) == [("2", "b2"), ("3", "c")]


def test_only_tombstones_empty_the_rows_they_name(con):
    make_stage(con, [("1", "a"), ("2", "b")])
    do(con, "merge")
    DEST.catalog.drop_table(con, "public", STAGE)
    make_stage(con, [])
    r = do(con, "merge", sent=Sent(0, True, ("1",)))
    assert rows(con) == [("2", "b")] and r.rows_removed == 1


def test_merge_keeps_values_of_columns_the_stage_lacks(con):
    make_stage(con, [("1", "a", 1)], "gid VARCHAR PRIMARY KEY, name VARCHAR, n INTEGER")
    do(con, "merge")
    make_stage(con, [("1", "a2"), ("2", "b")])
    do(con, "merge")
    assert rows(con) == [("1", "a2", 1), ("2", "b", None)]


def test_append_keeps_versions_without_primary_key(con):
    make_stage(con, [("1", "a")])
    do(con, "append")
    make_stage(con, [("1", "a2")])
    do(con, "append")
    assert rows(con) == [("1", "a"), ("1", "a2")]


def test_full_refresh_rebuilds_whatever_the_strategy(con):
    make_stage(con, [("1", "a"), ("2", "b")])
    do(con, "merge")
    make_stage(con, [("3", "c")])
    do(con, "merge", rebuild=True)
    assert rows(con) == [("3", "c")]


def test_windowed_publish_leaves_state_alone(con):
    make_stage(con, [("1", "a")])
    do(con, "merge", {"v": 1})
    make_stage(con, [("2", "b")])
    do(con, "merge", {"v": 2}, state_key=None)
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}
    assert len(rows(con)) == 2


def test_missing_stage_means_empty_source(con):
    make_stage(con, [("1", "a")])
    do(con, "replace")
    r = do(con, "replace")                       # loader created nothing
    assert r.rows_in_table == 0 and rows(con) == []
    con.execute("DROP TABLE public.tasks")
    r = do(con, "merge")
    assert r.created and rows(con) == []


@pytest.mark.parametrize("sent, why", [
    (Sent(5, True), "is gone although the loader created it"),
])
def test_a_missing_stage_the_loader_created_is_refused(con, sent, why):
    make_stage(con, [("1", "a")])
    do(con, "replace", {"v": 1})
    with pytest.raises(StageMismatch, match=why):
        do(con, "replace", {"v": 2}, sent=sent)
    assert rows(con) == [("1", "a")]
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}


@pytest.mark.parametrize("stage_rows, sent, why", [
    ([("1", "a"), ("2", "b")], Sent(1, True), "holds 2 rows, more than the 1 records"),
    ([], Sent(3, True), "is empty although this run loaded 3 records"),
])
def test_an_altered_stage_is_refused(con, stage_rows, sent, why):
    make_stage(con, [("9", "old")])
    do(con, "merge", {"v": 1})
    make_stage(con, stage_rows)
    with pytest.raises(StageMismatch, match=why):
        do(con, "merge", {"v": 2}, sent=sent)
    assert rows(con) == [("9", "old")]
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}


def test_changes_are_not_published_into_a_table_dropped_or_replaced_during_the_load(con):
    """An incremental run's stage holds only the changes: renamed into the
    place of a table dropped meanwhile it would be a table of those alone,
    under a bookmark that says it is whole."""
    make_stage(con, [("1", "a"), ("2", "b")])
    do(con, "merge", {"v": 1})
    seen = TableBefore(True, ("asana://1/tasks", {"v": 1}),
                       identity=DEST.catalog.table_identity(con, "public", "tasks"))
    con.execute("DROP TABLE public.tasks")
    make_stage(con, [("2", "b2")])
    with pytest.raises(StageMismatch, match="public.tasks was dropped during the load"):
        do(con, "merge", {"v": 2}, on_top_of=seen)
    assert not DEST.catalog.table_exists(con, "public", "tasks")
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}
    if DEST.catalog.table_identity(con, "public", STAGE) == f"public.{STAGE}":
        return          # DuckDB knows a table by its name only: a recreated one is the same to it
    con.execute("CREATE TABLE public.tasks (gid VARCHAR PRIMARY KEY, name VARCHAR)")
    with pytest.raises(StageMismatch, match="public.tasks was dropped and created anew"):
        do(con, "merge", {"v": 2}, on_top_of=seen)
    assert rows(con) == [] and DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}
    do(con, "merge", {"v": 2})                 # a whole copy may go anywhere
    assert rows(con) == [("2", "b2")]


def test_merge_keeps_the_columns_a_user_added(con):
    make_stage(con, [("1", "a"), ("2", "b")])
    do(con, "merge")
    con.execute("ALTER TABLE public.tasks ADD COLUMN triage VARCHAR")
    con.execute("UPDATE public.tasks SET triage = 'urgent-' || gid")
    make_stage(con, [("2", "b2"), ("3", "c")])
    do(con, "merge")
    assert rows(con) == [("1", "a", "urgent-1"), ("2", "b2", "urgent-2"), ("3", "c", None)]
    assert not DEST.catalog.table_exists(con, "temp", "_omniload_kept")


def test_failure_rolls_back_rows_columns_and_state(con):
    make_stage(con, [("1", "a", 1)], "gid VARCHAR PRIMARY KEY, name VARCHAR, n INTEGER")
    do(con, "merge", {"v": 1})
    # A stage that cannot be merged: new column (ALTER runs first) and a value
    # that does not cast to the existing INTEGER column.
    make_stage(con, [("1", "zz", "not-a-number", "x")],
               "gid VARCHAR PRIMARY KEY, name VARCHAR, n VARCHAR, extra VARCHAR")
    with pytest.raises((duckdb.Error, psycopg.Error)):
        do(con, "merge", {"v": 2})
    assert rows(con) == [("1", "a", 1)]                       # no new column, old row
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}
    assert DEST.catalog.table_exists(con, "public", STAGE)          # caller drops it


def test_failed_replace_keeps_old_table(con):
    make_stage(con, [("1", "a")])
    do(con, "replace", {"v": 1})
    make_stage(con, [("2", "b")])
    with pytest.raises(TypeError):                             # state not JSON-able
        do(con, "replace", {"v": object()})
    assert rows(con) == [("1", "a")]
    assert DEST.state.read_state(con, "public.tasks")[1] == {"v": 1}


def test_identifiers_are_quoted(con):
    con.execute('CREATE SCHEMA "select"')
    con.execute('CREATE TABLE "select"."_omniload_stage_from" (gid VARCHAR PRIMARY KEY)')
    con.execute("""INSERT INTO "select"."_omniload_stage_from" VALUES ('1')""")
    DEST.publish.publish(con, [PublishRequest(
        table=DestTable("select", "from"), stage="_omniload_stage_from", strategy="replace",
        key="gid", rebuild=False, state_key="select.from", source="s", state={}, sent=Sent(1, True))])
    assert run(con, 'SELECT * FROM "select"."from"') == [("1",)]


def test_state_absent_and_per_table(con):
    assert DEST.state.read_state(con, "public.tasks") is None
    # Reading does not create it.
    assert not DEST.catalog.table_exists(con, DEST.state.STATE_SCHEMA, DEST.state.STATE_TABLE)
    DEST.state.write_state(con, "a.x", "s1", {"k": 1})
    DEST.state.write_state(con, "a.y", "s2", {"k": 2})
    DEST.state.write_state(con, "a.x", "s1", {"k": 3})
    assert DEST.state.read_state(con, "a.x") == ("s1", {"k": 3})
    assert DEST.state.read_state(con, "a.y") == ("s2", {"k": 2})


def test_bookmark_of():
    assert bookmark_of({"bookmarks": {"tasks": {"replication_key": "modified_at",
                                                      "replication_key_value": "2026-01-01"}}},
                             "tasks") == "2026-01-01"
    assert bookmark_of({"bookmarks": {"tasks": {"partitions": [
        {"replication_key_value": "a"}, {"replication_key_value": "c"}]}}}, "tasks") == "c"
    assert bookmark_of(None, "tasks") is None
    assert bookmark_of({"bookmarks": []}, "tasks") is None


def test_strategies():
    assert [t.name for t in TABLES.values() if t.default_strategy == "merge"] == ["tasks", "subtasks"]
    tasks, users = get_table("tasks"), get_table("users")
    assert resolve_strategy(tasks, None) == "merge"
    assert resolve_strategy(users, None) == "replace"
    assert resolve_strategy(users, "merge") == "merge"          # upsert of a full extract
    assert resolve_strategy(tasks, "append") == "append"
    with pytest.raises(UsageError, match="append makes no sense for 'users'"):
        resolve_strategy(users, "append")
    with pytest.raises(UsageError, match="unknown source table 'foo'.*workspaces, projects"):
        get_table("foo")
