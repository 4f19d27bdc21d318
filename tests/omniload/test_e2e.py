"""./omniload for real: tap-asana -> the loader -> publish, against the Asana
simulator over HTTP.  Nothing is patched.  Tests that mean the same on every
destination run on a DuckDB file and on a real PostgreSQL server (the
`dest` fixture, tests/conftest.py)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.dest_reader import columns, execute, loaded_records, query, snapshot, stages
from tests.expected import OPT_FIELDS, PARENT_KEYS, TABLES, assert_same_records, expected_gids, expected_rows
from tests.omniload.support import OMNILOAD, REPO, SECRET_PART, clean_env, ingest, make_sim, run_omniload, source_uri
from tests.postgres_server import SECRET_PART as PG_SECRET
from tests.postgres_server import Database
from tests.reliability.support import cmdline, descendants
from tests.subtask_changes import change_subtasks

pytestmark = pytest.mark.slow
# Keep failing runs short: the tap would otherwise retry a 500 eight times.
FAST_FAIL = {"OMNILOAD_TAP_SETTINGS": json.dumps({"max_tries": 1})}


@pytest.fixture
def sim():
    s = make_sim()
    yield s
    s.stop()


def _json(value):
    """A JSON column's value: DuckDB hands out its text, PostgreSQL the value."""
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def full_db(request, tmp_path_factory, omniload_ready):
    """Every table of one simulated workspace, loaded once: into DuckDB by a
    run per table, into PostgreSQL by one run of them all (the two paths
    give the same tables: tests/omniload/test_all_tables.py)."""
    s = make_sim(seed=3)
    if request.param == "duckdb":
        db = tmp_path_factory.mktemp("full") / "work.db"
        runs = {t: ingest(s, db, t) for t in TABLES}
    else:
        server = request.getfixturevalue("pg_server")
        db = Database(server, server.create_database())
        one = run_omniload("ingest", "--source-uri", source_uri(s), "--source-table", "all", "--dest-uri",
                           db.uri, "--dest-schema", "public", "--progress", "log", timeout=300)
        runs = {t: one for t in TABLES}
    yield s, db, runs
    s.stop()


@pytest.mark.parametrize("table", TABLES)
def test_each_table_equals_the_simulator(full_db, table):
    sim, db, runs = full_db
    r = runs[table]
    assert r.returncode == 0, r.stderr
    assert f"-> public.{table}" in r.stdout and "rows in table:" in r.stdout
    gids = [g for (g,) in query(db, f'SELECT gid FROM public."{table}"')]
    assert len(gids) == len(set(gids))
    assert set(gids) == expected_gids(sim, table)
    # An exact copy (README): a column for every field the tap asks Asana for,
    # every value as Asana has it.
    types = columns(db, f"public.{table}")
    parent_key = {PARENT_KEYS[table][0]} if table in PARENT_KEYS else set()
    assert set(types) == {"gid"} | parent_key | {f.split(".")[0] for f in OPT_FIELDS[table]}
    assert_same_records(loaded_records(db, f"public.{table}"), expected_rows(sim, table, types),
                        f"public.{table}")


def test_state_lives_in_the_destination(full_db):
    sim, db, _ = full_db
    rows = dict(query(db, "SELECT dest_table, state FROM _omniload._state"))
    assert set(rows) == {f"public.{t}" for t in TABLES}
    st = _json(rows["public.tasks"])
    assert st["bookmarks"]["tasks"]["replication_key"] == "modified_at"
    assert st["bookmarks"]["tasks"]["replication_key_value"]
    # No staging tables left behind.
    assert not stages(db)


def test_token_never_stored(full_db):
    sim, db, runs = full_db
    for r in runs.values():
        assert SECRET_PART not in r.stdout + r.stderr
        assert PG_SECRET not in r.stdout + r.stderr
    for name, (_, rows) in snapshot(db).items():
        assert SECRET_PART not in repr(rows) and PG_SECRET not in repr(rows), name
    if isinstance(db, Path):
        assert SECRET_PART.encode() not in Path(db).read_bytes()


def test_incremental_merge_updates_without_duplicates(sim, dest, omniload_ready):
    db = dest
    first = ingest(sim, db, "tasks")
    assert first.returncode == 0, first.stderr
    bookmark1 = _json(query(db, "SELECT state FROM _omniload._state")[0][0])
    gids = sorted(expected_gids(sim, "tasks"))
    sim.store.edit_task(gids[0], name="renamed by the test", completed=True)
    project = sim.store.records("projects", workspace_gid=sim.org_workspace_gid)[0]["gid"]
    sim.store.add_task(project, name="brand new task")
    second = ingest(sim, db, "tasks")
    assert second.returncode == 0, second.stderr
    loaded = int(second.stdout.split("rows loaded:")[1].split()[0].replace(",", ""))
    assert 2 <= loaded < len(gids)                      # only the changes travelled
    rows = query(db, "SELECT gid, name, completed FROM public.tasks")
    assert len(rows) == len({g for g, *_ in rows}) == len(gids) + 1
    by_gid = {g: (n, c) for g, n, c in rows}
    assert by_gid[gids[0]] == ("renamed by the test", True)
    assert "brand new task" in {n for n, _ in by_gid.values()}
    bookmark2 = _json(query(db, "SELECT state FROM _omniload._state")[0][0])
    assert bookmark2["bookmarks"]["tasks"]["replication_key_value"] > \
        bookmark1["bookmarks"]["tasks"]["replication_key_value"]
    assert "changes since" not in second.stdout and "incremental on modified_at" in second.stdout


def test_a_column_the_user_added_to_a_merged_table_keeps_its_values(sim, dest, omniload_ready):
    """Merge owns the columns it loads, not the table: a team's own column
    survives every re-merged row. Replace builds a new table (README)."""
    db = dest
    assert ingest(sim, db, "tasks").returncode == 0
    gids = sorted(expected_gids(sim, "tasks"))
    execute(db, "ALTER TABLE public.tasks ADD COLUMN triage VARCHAR",
            "UPDATE public.tasks SET triage = 'ours:' || gid")
    sim.store.edit_task(gids[1], name="edited after the column was added")
    r = ingest(sim, db, "tasks")
    assert r.returncode == 0, r.stderr
    rows = dict(query(db, "SELECT gid, triage FROM public.tasks"))
    assert rows[gids[1]] == f"ours:{gids[1]}"
    assert all(v == f"ours:{g}" for g, v in rows.items())
    assert query(db, "SELECT name FROM public.tasks WHERE gid = ?", gids[1]) == \
        [("edited after the column was added",)]


def test_replace_reflects_deletions_and_renames(sim, dest, omniload_ready):
    db = dest
    for t in ("projects", "users"):
        assert ingest(sim, db, t).returncode == 0
    projects = sorted(expected_gids(sim, "projects"))
    users = sorted(expected_gids(sim, "users"))
    sim.store.delete_project(projects[0])
    sim.store.rename("projects", projects[1], "Renamed Project")
    sim.store.delete_user(users[-1])
    for t in ("projects", "users"):
        r = ingest(sim, db, t)
        assert r.returncode == 0, r.stderr
    got = dict(query(db, "SELECT gid, name FROM public.projects"))
    assert set(got) == set(projects[1:]) and got[projects[1]] == "Renamed Project"
    assert {g for (g,) in query(db, "SELECT gid FROM public.users")} == set(users[:-1])


def test_subtasks_replace_and_full_refresh_are_exact_and_merge_goes_on_from_them(dest, omniload_ready):
    sim = make_sim(subtask_fraction=0.8, subtask_nesting=0.4)
    try:
        db, rng = dest, random.Random(11)

        def assert_exact(label: str) -> None:
            types = columns(db, "public.subtasks")
            assert_same_records(loaded_records(db, "public.subtasks"), expected_rows(sim, "subtasks", types), label)

        def load(*args: str) -> None:
            r = ingest(sim, db, "subtasks", *args)
            assert r.returncode == 0, r.stderr

        load()                                        # merge, the default
        # Changes the projects' events name (a level below the project
        # tasks): exact after each run, whatever the strategy.
        for args in (["--incremental-strategy", "replace"], [], ["--full-refresh"], []):
            done = change_subtasks(sim, rng, 6, max_depth=1)
            load(*args)
            assert_exact(f"subtasks after {done}, then a run with {args or 'merge'}")
    finally:
        sim.stop()


def test_failed_run_changes_nothing(sim, dest, omniload_ready):
    db = dest
    for t in ("tasks", "projects"):
        assert ingest(sim, db, t).returncode == 0
    before = snapshot(db)
    gids = sorted(expected_gids(sim, "tasks"))
    for g in gids[:5]:
        sim.store.edit_task(g, name=f"changed {g}")
    sim.store.rename("projects", sorted(expected_gids(sim, "projects"))[0], "changed")
    sim.faults.fail_from(3, status=500)                  # half-way through the run
    for t in ("tasks", "projects"):
        r = ingest(sim, db, t, env_extra=FAST_FAIL)
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("omniload: error: ")
        assert "Traceback" not in r.stderr and SECRET_PART not in r.stderr
    assert snapshot(db) == before                        # rows, columns and state
    sim.faults.clear()
    assert ingest(sim, db, "tasks").returncode == 0       # and it recovers
    assert {n for (n,) in query(db, "SELECT name FROM public.tasks")} >= {f"changed {g}" for g in gids[:5]}


def test_failed_first_run_leaves_no_file(sim, tmp_path, omniload_ready):
    db = tmp_path / "new.db"
    sim.faults.fail_from(1, status=500)
    r = ingest(sim, db, "tasks", env_extra=FAST_FAIL)
    assert r.returncode == 1
    assert not db.exists()


def test_dest_table_names_the_table(sim, tmp_path, omniload_ready):
    db = tmp_path / "w.db"
    r = ingest(sim, db, "tasks", dest_table="Analytics.My_Tasks")
    assert r.returncode == 0, r.stderr
    tables = set(query(db, "SELECT schema_name, table_name FROM duckdb_tables()"))
    assert tables == {("analytics", "my_tasks"), ("_omniload", "_state")}
    assert query(db, "SELECT dest_table FROM _omniload._state") == [("analytics.my_tasks",)]
    r = ingest(sim, db, "users", dest_table="people")        # bare name -> schema main
    assert r.returncode == 0 and query(db, "SELECT count(*) FROM main.people")[0][0] > 0


def test_windowed_run_leaves_bookmark(sim, dest, omniload_ready):
    db = dest
    assert ingest(sim, db, "tasks").returncode == 0
    state_before = query(db, "SELECT state FROM _omniload._state")
    gid = sorted(expected_gids(sim, "tasks"))[0]
    sim.store.edit_task(gid, name="edited for the window")
    r = ingest(sim, db, "tasks", "--interval-start", "2000-01-01", "--interval-end", "2100-01-01")
    assert r.returncode == 0, r.stderr
    assert "windowed run: bookmark unchanged" in r.stdout
    assert query(db, "SELECT state FROM _omniload._state") == state_before
    assert query(db, "SELECT name FROM public.tasks WHERE gid = ?", gid) == [("edited for the window",)]
    # A window that excludes everything loads nothing and removes nothing.
    r = ingest(sim, db, "tasks", "--interval-end", "2001-01-01")
    assert r.returncode == 0 and "rows loaded:   0" in r.stdout
    assert query(db, "SELECT count(*) FROM public.tasks")[0][0] == len(expected_gids(sim, "tasks"))


def test_interval_start_in_the_future_is_warned_about(sim, tmp_path, omniload_ready):
    db = tmp_path / "w.db"
    r = ingest(sim, db, "tasks", "--interval-start", "2999-01-01")
    assert r.returncode == 0, r.stderr
    assert "warning: --interval-start 2999-01-01T00:00:00Z is in the future" in r.stdout + r.stderr
    assert "rows loaded:   0" in r.stdout


def test_start_date_in_year_one_loads_everything(sim, tmp_path, omniload_ready):
    db = tmp_path / "w.db"
    sim.reset_request_log()
    r = run_omniload("ingest", "--source-uri", source_uri(sim) + "&start_date=0001-01-01",
                     "--source-table", "tasks", "--dest-uri", f"duckdb:///{db}",
                     "--dest-table", "public.tasks", env=clean_env())
    assert r.returncode == 0, r.stderr
    assert sim.request_count(status=400) == 0
    assert {x.query.get("modified_since") for x in sim.requests if x.api_path == "/tasks"} \
        == {"0001-01-01T00:00:00.000Z"}
    assert query(db, "SELECT count(*) FROM public.tasks")[0][0] == len(expected_gids(sim, "tasks"))


def test_rejected_token_and_unknown_workspace(sim, tmp_path, omniload_ready):
    db = tmp_path / "w.db"
    for kwargs, fragment in ((dict(token="2/1:wrong" + SECRET_PART), "401"),
                             (dict(workspace="99999"), "99999")):
        r = ingest(sim, db, "tasks", **kwargs)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1, r.stderr
        assert len(lines) == 1 and lines[0].startswith("omniload: error: "), r.stderr
        assert fragment in lines[0]
        assert SECRET_PART not in r.stdout + r.stderr and "Traceback" not in r.stderr
        assert not db.exists()


def test_strategy_overrides(sim, dest, omniload_ready):
    db = dest
    n = len(expected_gids(sim, "tasks"))
    for _ in range(2):
        assert ingest(sim, db, "tasks", "--incremental-strategy", "replace").returncode == 0
    assert query(db, "SELECT count(*) FROM public.tasks")[0][0] == n
    assert ingest(sim, db, "projects", "--incremental-strategy", "merge").returncode == 0
    # append: a change log of versions, no primary key
    log = "main.log" if isinstance(db, Path) else "public.log"     # a bare name's schema
    assert ingest(sim, db, "tasks", "--incremental-strategy", "append", dest_table="log").returncode == 0
    sim.store.edit_task(sorted(expected_gids(sim, "tasks"))[0], name="v2")
    assert ingest(sim, db, "tasks", "--incremental-strategy", "append", dest_table="log").returncode == 0
    total, distinct = query(db, f"SELECT count(*), count(DISTINCT gid) FROM {log}")[0]
    assert distinct == n and total > n
    # --full-refresh rebuilds from scratch
    r = ingest(sim, db, "tasks", "--incremental-strategy", "append", "--full-refresh", dest_table="log")
    assert r.returncode == 0 and query(db, f"SELECT count(*) FROM {log}")[0][0] == n
    # A change log replaced is one row per task, every version of it gone.
    assert ingest(sim, db, "tasks", "--incremental-strategy", "append", dest_table="log").returncode == 0
    r = ingest(sim, db, "tasks", "--incremental-strategy", "replace", dest_table="log")
    assert r.returncode == 0, r.stderr
    assert query(db, f"SELECT count(*), count(DISTINCT gid) FROM {log}")[0] == (n, n)


def _pids_with(text: str, root: int) -> list[int]:
    """root and its descendants whose arguments contain text.  Only those:
    other tests (parallel workers) and other people may be running omniload
    on this machine, with the same test token in their arguments."""
    return [pid for pid in [root, *descendants(root)] if text in cmdline(pid)]


def _start_slow(sim, db, tmp, *, via_env: bool, program: Path = OMNILOAD):
    sim.faults.set_latency(150)
    tmpdir = tmp / "tmp"
    tmpdir.mkdir()
    env = clean_env(TMPDIR=tmpdir, OMNILOAD_PROGRESS_INTERVAL="0.3",
                    OMNILOAD_TAP_SETTINGS=json.dumps({"page_size": 2, "concurrency": 1}))
    args = [str(program), "ingest", "--source-table", "tasks", "--dest-uri", f"duckdb:///{db}",
            "--dest-table", "public.tasks", "--progress", "log"]
    if via_env:
        env["SOURCE_URI"] = source_uri(sim)
    else:
        args[2:2] = ["--source-uri", source_uri(sim)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not _pids_with("--catalog", proc.pid):
        time.sleep(0.05)
    assert _pids_with("--catalog", proc.pid), "tap-asana never started"
    return proc, tmpdir


# ./omniload (a clone), and the console script itself (omniload installed as
# a tool: `uv tool install .`), which hands over the same way (entry.py).
CONSOLE_SCRIPT = REPO / ".omniload" / "envs" / "omniload" / "bin" / "omniload"


@pytest.mark.parametrize("program", [OMNILOAD, CONSOLE_SCRIPT], ids=["clone", "console-script"])
@pytest.mark.parametrize("via_env", [False, True], ids=["argument", "SOURCE_URI"])
def test_token_not_in_any_process_args_or_child_env(sim, tmp_path, omniload_ready, via_env, program):
    db = tmp_path / "w.db"
    proc, _ = _start_slow(sim, db, tmp_path, via_env=via_env, program=program)
    try:
        seen_children = set()
        # omniload itself: the URI was handed over through a file.
        own = Path(f"/proc/{proc.pid}/environ").read_bytes() + Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert SECRET_PART.encode() not in own, "token in omniload's own arguments or environment"
        for _ in range(10):
            leaks = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:200] for p in _pids_with(SECRET_PART, proc.pid)}
            assert not leaks, f"token visible in a process's arguments: {leaks}"
            for pid in _pids_with("tap-asana", proc.pid) + _pids_with("target-duckdb-omniload", proc.pid):
                try:
                    env = Path(f"/proc/{pid}/environ").read_bytes()
                except OSError:
                    continue
                seen_children.add(pid)
                assert SECRET_PART.encode() not in env, "token in a child's environment"
            time.sleep(0.1)
        assert len(seen_children) >= 2
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "progress tasks:" in err and SECRET_PART not in out + err


def test_ctrl_c_stops_children_and_changes_nothing(sim, tmp_path, omniload_ready):
    db = tmp_path / "w.db"
    assert ingest(sim, db, "tasks").returncode == 0
    for g in sorted(expected_gids(sim, "tasks"))[:3]:
        sim.store.edit_task(g, name="edited before ctrl-c")
    before = snapshot(db)
    proc, tmpdir = _start_slow(sim, db, tmp_path, via_env=True)
    time.sleep(1.0)
    children = _pids_with("--catalog", proc.pid) + _pids_with("target-duckdb-omniload", proc.pid)
    assert children
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "omniload: interrupted; the destination was left as it was"
    assert not [p for p in children if Path(f"/proc/{p}").exists()
                and "zombie" not in Path(f"/proc/{p}/status").read_text()]
    assert list(tmpdir.iterdir()) == []                   # private config dir removed
    assert snapshot(db) == before


def test_demo(tmp_path, omniload_ready):
    r = run_omniload("demo", "--dest-uri", f"duckdb:///{tmp_path}/demo.db", "--projects", "2",
                     "--tasks-per-project", "3", "--progress", "log", timeout=300)
    assert r.returncode == 0, r.stderr
    for t in TABLES:
        assert f"public.{t}" in r.stdout
    assert "sample query" in r.stdout and "sample query failed" not in r.stdout


def test_copied_database_carries_its_bookmark(sim, tmp_path, omniload_ready):
    db, copy = tmp_path / "w.db", tmp_path / "copy.db"
    assert ingest(sim, db, "tasks").returncode == 0
    copy.write_bytes(db.read_bytes())
    n = len(expected_gids(sim, "tasks"))
    r = ingest(sim, copy, "tasks")
    assert r.returncode == 0
    loaded = int(r.stdout.split("rows loaded:")[1].split()[0])
    assert loaded < n and query(copy, "SELECT count(*) FROM public.tasks")[0][0] == n
    r = ingest(sim, copy, "tasks", "--full-refresh")            # ignores the bookmark
    assert r.returncode == 0 and f"rows loaded:   {n}" in r.stdout


def test_stories_merge_fetches_only_the_changed_tasks_stories(sim, dest, omniload_ready):
    db = dest
    first = ingest(sim, db, "stories", "--incremental-strategy", "merge")
    assert first.returncode == 0, first.stderr
    all_stories = expected_gids(sim, "stories")
    assert {g for (g,) in query(db, "SELECT gid FROM public.stories")} == all_stories
    time.sleep(1.1)  # past the watermark (Asana's clock has 1 s resolution)
    task = sorted(expected_gids(sim, "tasks"))[0]
    story = sim.store.add_story(task, "a comment after the first run")
    sim.reset_request_log()
    second = ingest(sim, db, "stories", "--incremental-strategy", "merge")
    assert second.returncode == 0, second.stderr
    rows = [g for (g,) in query(db, "SELECT gid FROM public.stories")]
    assert len(rows) == len(set(rows)) and set(rows) == all_stories | {story}
    fetched = {r.path.split("/")[-2] for r in sim.requests if r.path.endswith("/stories")}
    assert fetched == {task}  # not every task's stories again
