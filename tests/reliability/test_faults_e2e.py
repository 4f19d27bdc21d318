"""./omniload end to end while Asana misbehaves: random faults of every kind
under a tight quota, an offset expiring mid-listing, a token revoked mid-run.

The tap-level versions of these live in tests/tap/test_failures.py; here the
whole pipeline (tap -> target -> publish) must come out exact.
"""

from __future__ import annotations

from collections import Counter

import pytest

from asana_simulator import FAULT_KINDS
from tests.duckdb_reader import query, snapshot, table_rows
from tests.expected import TABLES, expected_gids
from tests.omniload.support import ingest
from tests.reliability.support import assert_clean_error, tap_settings

pytestmark = pytest.mark.slow

# A seed whose first ~45 fault decisions at rate 0.1 draw every one of the 7
# kinds, so each kind is met by every run of this test (the draws depend only
# on how many requests reach the fault stage, not on their timing).
FAULT_SEED = 302
SMALL_PAGES = tap_settings(page_size=2, max_tries=10)


@pytest.fixture(scope="module")
def reference(sim, tmp_path_factory, omniload_ready):
    """Every table loaded without faults."""
    db = tmp_path_factory.mktemp("reference") / "w.db"
    out = {}
    for t in TABLES:
        r = ingest(sim, db, t)
        assert r.returncode == 0, r.stderr
        out[t] = table_rows(db, f"public.{t}")
    return out


def test_random_faults_under_a_tight_quota_load_every_table_exactly(sim, reference, tmp_path):
    """10% of requests fail (500/502/503/504, dropped, cut mid-body, 429 +
    Retry-After) while the quota is 25 requests per 3 s window and at most 4
    in flight: every table equals the fault-free copy, row for row."""
    sim.reset_request_log()
    sim.faults.configure(rate=0.1, kinds=FAULT_KINDS, seed=FAULT_SEED, retry_after_s=1)
    sim.quota.configure(per_minute=25, max_concurrent=4)
    window, sim.quota.window_s = sim.quota.window_s, 3.0
    sim.quota.reset()
    db = tmp_path / "w.db"
    try:
        runs = {t: ingest(sim, db, t, env_extra=SMALL_PAGES) for t in TABLES}
    finally:
        sim.faults.clear()
        sim.quota.configure(per_minute=None, max_concurrent=50)
        sim.quota.window_s = window
    for t, r in runs.items():
        assert r.returncode == 0, (t, r.stderr[-2000:])
    injected = dict(sim.faults.injected_by_kind)
    assert set(injected) >= set(FAULT_KINDS), injected
    assert sum(1 for r in sim.requests if r.status == 429 and str(r.fault).startswith("rate_limit")) > 0
    for t in TABLES:
        gids = [g for (g,) in query(db, f'SELECT gid FROM public."{t}"')]
        assert len(gids) == len(set(gids)), f"duplicates in {t}"
        assert set(gids) == expected_gids(sim, t), t
        assert table_rows(db, f"public.{t}") == reference[t], f"{t} differs from the fault-free copy"


def test_offset_expiring_mid_listing(sim, reference, tmp_path):
    """Offsets expire after a few pages: the listing restarts, nothing lost
    or doubled (users: one listing; tasks: one per project)."""
    db = tmp_path / "w.db"
    for table in ("users", "tasks"):
        sim.reset_request_log()
        sim.expire_offsets_after(requests=4)
        r = ingest(sim, db, table, env_extra=tap_settings(page_size=2, concurrency=1))
        assert r.returncode == 0, r.stderr[-2000:]
        refused = [x for x in sim.requests if x.status == 400 and "offset" in x.query]
        assert refused, f"no offset expired during the {table} run"
        assert table_rows(db, f"public.{table}") == reference[table]


@pytest.mark.parametrize("table, ok_requests", [("tasks", 3), ("stories", 8)])
def test_token_revoked_mid_run_changes_nothing(sim, tmp_path, table, ok_requests):
    """First run fine; on the second, 401 once a few requests succeeded: one
    clear error line, the table and its stored state exactly as before."""
    db = tmp_path / "w.db"
    assert ingest(sim, db, table).returncode == 0
    for g in sorted(expected_gids(sim, "tasks"))[:2]:
        sim.store.add_story(g, "changed before the revoked run")
    before = snapshot(db)
    sim.reset_request_log()
    sim.faults.fail_from(ok_requests, status=401)
    try:
        r = ingest(sim, db, table, "--incremental-strategy", "merge" if table == "tasks" else "replace",
                   env_extra=tap_settings(page_size=2, concurrency=2))
    finally:
        sim.faults.clear()
    assert r.returncode == 1, r.stderr
    assert_clean_error(r.stderr, r.stdout, "the access token was rejected by Asana (401")
    statuses = Counter(x.status for x in sim.requests)
    assert statuses[200] == ok_requests and statuses[401] >= 1, statuses
    assert snapshot(db) == before


@pytest.mark.parametrize("mode", ["repeat", "cycle"])
def test_a_listing_that_never_ends_fails_the_run_and_changes_nothing(sim, tmp_path, mode):
    """A server bug or a cache handing out the same page forever must end the
    run (one line naming the endpoint), not page until the job is killed."""
    db = tmp_path / "w.db"
    assert ingest(sim, db, "tasks").returncode == 0
    sim.store.edit_task(sorted(expected_gids(sim, "tasks"))[0], name="edited before the loop")
    before = snapshot(db)
    sim.reset_request_log()
    sim.faults.break_pagination("/tasks", mode)
    try:
        r = ingest(sim, db, "tasks", "--full-refresh", env_extra=tap_settings(page_size=2))
    finally:
        sim.faults.clear()
    assert r.returncode == 1, r.stderr
    assert_clean_error(r.stderr, r.stdout, "/tasks ")
    assert ("already given" if mode == "repeat" else "goes in circles") in r.stderr
    assert len(sim.requests) < 400
    assert snapshot(db) == before
