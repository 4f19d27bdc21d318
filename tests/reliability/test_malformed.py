"""Malformed or surprising 200 responses are handled deliberately: retried,
coerced or reported -- never a silently dropped row.

The simulator's opt-in MALFORMED_KINDS: a body that is not JSON, JSON without
`data`, null in string fields, gids as JSON numbers (nested ones too).
"""

from __future__ import annotations

import json

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.duckdb_reader import query, snapshot
from tests.omniload.support import TOKEN as E2E_TOKEN
from tests.omniload.support import ingest
from tests.reliability.support import assert_clean_error, tap_settings
from tests.tap.support import TOKEN, base_config, run_tap

pytestmark = pytest.mark.slow  # every test runs ./omniload or the tap end to end

SPEC = WorkspaceSpec(projects=2, tasks_per_project=4, users=12, seed=5)
STREAMS = ["workspaces", "projects", "tasks", "stories", "users"]


@pytest.fixture(scope="module")
def sim():
    with Simulator(SPEC, token=TOKEN) as s:
        yield s


@pytest.fixture(scope="module")
def clean(sim, tmp_path_factory):
    run = run_tap(tmp_path_factory.mktemp("clean"), base_config(sim, page_size=3), streams=STREAMS)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def by_gid(records):
    return sorted(records, key=lambda r: r["gid"])


def faulty_run(sim, tmp_path, kind, rate, **config):
    sim.faults.clear()
    sim.faults.configure(rate=rate, kinds=(kind,), seed=4)
    try:
        return run_tap(tmp_path, base_config(sim, page_size=3, **config), streams=STREAMS)
    finally:
        sim.faults.clear()
        sim.faults.injected_by_kind.clear()


@pytest.mark.parametrize("kind", ["non_json", "missing_data"])
def test_garbled_pages_are_retried(sim, clean, tmp_path, kind):
    run = faulty_run(sim, tmp_path, kind, 0.3)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sim.request_count() and any(r.fault == kind for r in sim.requests)
    for stream in STREAMS:
        assert by_gid(run.records(stream)) == by_gid(clean.records(stream)), stream


def test_numeric_gids_are_coerced_everywhere(sim, clean, tmp_path):
    """Every gid a JSON number, nested references included: the records come
    out exactly as with string gids (the schema says string)."""
    run = faulty_run(sim, tmp_path, "numeric_gid", 1.0)
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in STREAMS:
        assert by_gid(run.records(stream)) == by_gid(clean.records(stream)), stream


def test_null_in_a_string_field_keeps_the_row(sim, clean, tmp_path):
    """`name`/`text`/`email`/`notes` null though the schema's type is a
    string: the row is kept, with null there and everything else intact."""
    run = faulty_run(sim, tmp_path, "null_string_field", 1.0)
    assert run.returncode == 0, run.stderr[-2000:]
    nulled = ("name", "text", "notes", "email")
    for stream in STREAMS:
        got, want = by_gid(run.records(stream)), by_gid(clean.records(stream))
        assert [r["gid"] for r in got] == [r["gid"] for r in want], stream
        for g, w in zip(got, want):
            assert {k: v for k, v in g.items() if k not in nulled} == \
                   {k: v for k, v in w.items() if k not in nulled}
            assert all(g.get(f) is None for f in nulled if f in w)


@pytest.mark.parametrize("kind, fragment", [("non_json", "not JSON"), ("missing_data", "'data'")])
def test_persistently_garbled_answers_end_in_one_line(sim, tmp_path, kind, fragment):
    run = faulty_run(sim, tmp_path, kind, 1.0, max_tries=3)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-asana: error: ") and fragment in last, run.stderr[-1500:]
    assert "Traceback" not in run.stderr
    assert not [m for m in run.messages if m["type"] == "RECORD"]


def test_end_to_end_nulls_and_numeric_gids_reach_the_table(tmp_path, omniload_ready):
    """Through ./omniload: every task is a row, gids are strings, the nulled
    names are SQL NULLs; then a run whose every answer is garbage fails in
    one line and leaves that table as it was."""
    with Simulator(SPEC, token=E2E_TOKEN) as s:
        s.faults.configure(rate=1.0, kinds=("null_string_field",), seed=1)
        db = tmp_path / "w.db"
        r = ingest(s, db, "tasks")
        assert r.returncode == 0, r.stderr
        rows = query(db, "SELECT gid, name, typeof(gid), projects FROM public.tasks")
        truth = {t["gid"] for t in s.store.records("tasks", workspace_gid=s.org_workspace_gid)
                 if t["projects"]}
        assert {g for g, *_ in rows} == truth
        assert all(name is None and kind == "VARCHAR" for _, name, kind, _p in rows)
        s.faults.configure(kinds=("numeric_gid",))
        db2 = tmp_path / "w2.db"
        assert ingest(s, db2, "tasks").returncode == 0
        for _g, _n, kind, projects in query(db2, "SELECT gid, name, typeof(gid), projects FROM public.tasks"):
            assert kind == "VARCHAR" and all(isinstance(p["gid"], str) for p in json.loads(projects))
        assert {g for (g,) in query(db2, "SELECT gid FROM public.tasks")} == truth

        before = snapshot(db)
        s.faults.configure(kinds=("non_json",))
        r = ingest(s, db, "tasks", "--full-refresh", env_extra=tap_settings(max_tries=2))
        assert r.returncode == 1
        assert_clean_error(r.stderr, r.stdout, "not JSON")
        assert snapshot(db) == before
