"""target-postgres-omniload (target-postgres 0.8.1 plus our overrides) on
hand-written Singer messages, against a real PostgreSQL server: each test
guards a row of target-postgres-omniload/divergences.py.  The plain
`target-postgres` of the same environment shows what upstream does."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests import pg_reader
from tests.postgres_server import ROLE, ROLE_PASSWORD, SECRET_PART

ENV = Path(__file__).resolve().parents[2] / ".omniload" / "envs" / "target-postgres"

SCHEMA = {"type": "SCHEMA", "stream": "things", "key_properties": ["gid"], "schema": {"properties": {
    "gid": {"type": ["string"]},
    "name": {"type": ["null", "string"]},
    "done": {"type": ["null", "boolean"]},
    "likes": {"type": ["null", "integer"]},
    "minutes": {"type": ["null", "number"]},
    "due_on": {"type": ["null", "string"], "format": "date"},
    "modified_at": {"type": ["null", "string"], "format": "date-time"},
    "assignee": {"type": ["null", "object"], "properties": {"gid": {"type": ["null", "string"]}}},
    "tags": {"type": ["null", "array"], "items": {"type": ["null", "object"],
                                                  "properties": {"name": {"type": ["null", "string"]}}}},
    "domains": {"type": ["null", "array"], "items": {"type": ["null", "string"]}},
}}}


def record(gid: str, **values) -> dict:
    return {"type": "RECORD", "stream": "things", "record": {"gid": gid, **values}}


@pytest.fixture(scope="session")
def loader(omniload_ready) -> Path:
    return ENV / "bin" / "target-postgres-omniload"


def run(executable: Path, db, messages, tmp_path: Path, check: bool = True, **config):
    cfg = {"sqlalchemy_url": db.server.uri(db.name).replace("postgresql://", "postgresql+psycopg://"),
           "default_target_schema": "public", "use_copy": True, "add_record_metadata": False,
           "activate_version": False, **config}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    r = subprocess.run([str(executable), "--config", str(path)], capture_output=True, timeout=120,
                       input="".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages).encode())
    if check:
        assert r.returncode == 0, r.stderr.decode()[-3000:]
    return r


def test_column_types(loader, pg_db, tmp_path):
    run(loader, pg_db, [SCHEMA, record("1", name="a", done=True, likes=2, minutes=1.5, due_on="2024-03-01",
                                       modified_at="2024-03-01T10:00:00.123Z", assignee={"gid": "9"},
                                       tags=[{"name": "x"}, {"name": "y"}], domains=["a.com", "b.com"])], tmp_path)
    assert pg_reader.columns(pg_db, "public.things") == {
        "gid": "text", "name": "text", "done": "boolean", "likes": "bigint", "minutes": "numeric", "due_on": "date",
        "modified_at": "timestamp with time zone", "assignee": "jsonb", "tags": "jsonb", "domains": "jsonb"}
    row = pg_reader.rows_by_key(pg_db, "public.things")["1"]
    assert row == {"gid": "1", "name": "a", "done": True, "likes": 2, "minutes": Decimal("1.5"),
                   "due_on": date(2024, 3, 1),
                   "modified_at": datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=timezone.utc),
                   "assignee": {"gid": "9"}, "tags": [{"name": "x"}, {"name": "y"}], "domains": ["a.com", "b.com"]}
    assert pg_reader.query(pg_db, "SELECT tags->1->>'name', tags @> '[{\"name\": \"x\"}]' FROM public.things") \
        == [("y", True)]


def test_instants_keep_their_offset(loader, pg_server, pg_db, tmp_path):
    # A server whose default TimeZone is not UTC: a value without an offset is UTC all the same.
    pg_server.admin(f"ALTER DATABASE \"{pg_db.name}\" SET timezone TO 'America/New_York'")
    run(loader, pg_db, [SCHEMA, record("1", modified_at="2024-01-01T10:00:00+02:00"),
                        record("2", modified_at="2024-01-01T10:00:00"),
                        record("3", modified_at="2024-07-01T00:30:00.5Z")], tmp_path)
    got = {g: r["modified_at"] for g, r in pg_reader.rows_by_key(pg_db, "public.things").items()}
    assert got == {"1": datetime(2024, 1, 1, 8, tzinfo=timezone.utc),
                   "2": datetime(2024, 1, 1, 10, tzinfo=timezone.utc),
                   "3": datetime(2024, 7, 1, 0, 30, 0, 500000, tzinfo=timezone.utc)}


@pytest.mark.upstream_bug
def test_plain_target_postgres_makes_arrays_and_naive_timestamps(pg_db, tmp_path, omniload_ready):
    """What rows p1 and p2 fix: when this fails, upstream changed its types."""
    run(ENV / "bin" / "target-postgres", pg_db, [SCHEMA, record("1", tags=[{"name": "x"}])], tmp_path)
    kinds = pg_reader.columns(pg_db, "public.things")
    assert (kinds["tags"], kinds["modified_at"]) == ("jsonb[]", "timestamp without time zone")


def test_tombstones_delete_rows_with_hard_delete(loader, pg_db, tmp_path):
    meta = dict(add_record_metadata=True, activate_version=True)
    run(loader, pg_db, [SCHEMA, record("1", name="a"), record("2", name="b"), record("3", name="c")], tmp_path,
        hard_delete=True, **meta)
    gone = "2024-01-01T00:00:00Z"
    run(loader, pg_db, [SCHEMA, record("1", _sdc_deleted_at=gone), record("2", name="b2"),
                        record("3", _sdc_deleted_at=gone), record("3", name="back"), record("9", _sdc_deleted_at=gone)],
        tmp_path, hard_delete=True, **meta)
    assert sorted(pg_reader.query(pg_db, "SELECT gid, name FROM public.things")) == [("2", "b2"), ("3", "back")]
    # Without hard_delete, upstream's soft delete stands: the row stays, marked.
    run(loader, pg_db, [SCHEMA, record("2", _sdc_deleted_at=gone)], tmp_path, hard_delete=False, **meta)
    assert pg_reader.query(pg_db, "SELECT gid, _sdc_deleted_at IS NOT NULL FROM public.things WHERE gid = '2'") \
        == [("2", True)]


def test_a_failure_is_one_line_then_exit_1(loader, pg_server, pg_db, tmp_path):
    cfg_url = pg_server.uri(pg_db.name, password="wrong" + ROLE_PASSWORD).replace(
        "postgresql://", "postgresql+psycopg://")
    r = run(loader, pg_db, [SCHEMA, record("1")], tmp_path, check=False, sqlalchemy_url=cfg_url)
    err = r.stderr.decode()
    assert r.returncode == 1
    failed = [line for line in err.splitlines() if line.startswith("target-postgres-omniload failed: ")]
    assert len(failed) == 1 and "password authentication failed" in failed[0] and f'"{ROLE}"' in failed[0]
    assert SECRET_PART not in err


def test_upstream_commits_every_batch_on_its_own(loader, pg_db, tmp_path):
    """Why omniload has it fill a stage and publishes itself: a load that
    fails half-way leaves the batches before the failure committed."""
    r = run(loader, pg_db, [SCHEMA, *(record(str(i), name=f"n{i}") for i in range(5))] + ["not json"], tmp_path,
            check=False, batch_size_rows=2)
    assert r.returncode != 0
    assert pg_reader.query(pg_db, "SELECT count(*) FROM public.things")[0][0] >= 2


def _version(v: int) -> dict:
    return {"type": "ACTIVATE_VERSION", "stream": "things", "version": v}


def _versioned(gid: str, v: int) -> dict:
    return {**record(gid, name=f"v{v}"), "version": v}


META = dict(add_record_metadata=True, activate_version=True, hard_delete=True)


def test_activate_version_deletes_only_once_the_extract_is_complete(loader, pg_db, tmp_path):
    run(loader, pg_db, [SCHEMA, _version(1), *(_versioned(g, 1) for g in "123"), _version(1)], tmp_path, **META)
    # An extract that stops before its closing message (a tap that died): nothing goes.
    run(loader, pg_db, [SCHEMA, _version(2), _versioned("1", 2)], tmp_path, **META)
    assert sorted(pg_reader.query(pg_db, "SELECT gid, name FROM public.things")) == \
        [("1", "v2"), ("2", "v1"), ("3", "v1")]
    # The complete one removes what it did not send.
    run(loader, pg_db, [SCHEMA, _version(3), _versioned("1", 3), _version(3)], tmp_path, **META)
    assert pg_reader.query(pg_db, "SELECT gid, name FROM public.things") == [("1", "v3")]
    # An empty, complete extract empties the table.
    run(loader, pg_db, [SCHEMA, _version(4), _version(4)], tmp_path, **META)
    assert pg_reader.query(pg_db, "SELECT count(*) FROM public.things") == [(0,)]


@pytest.mark.upstream_bug
def test_plain_target_postgres_deletes_at_the_opening_activate_version(pg_db, tmp_path, omniload_ready):
    """What row p5 fixes: the table is emptied before the extract has loaded."""
    plain = ENV / "bin" / "target-postgres"
    run(plain, pg_db, [SCHEMA, _version(1), *(_versioned(g, 1) for g in "123"), _version(1)], tmp_path, **META)
    run(plain, pg_db, [SCHEMA, _version(2), _versioned("1", 2)], tmp_path, **META)
    assert pg_reader.query(pg_db, "SELECT gid FROM public.things") == [("1",)]


TRICKY = "tab\there, newline\nthere, back\\slash, \"quotes\", 'single', é, 日本, 🚀, \\N, \r\n, ,;|"


def test_values_survive_byte_exact(loader, pg_db, tmp_path):
    nested = {"name": TRICKY, "n": 12345678901234567890, "x": 0.1, "none": None, "list": [TRICKY, 1, True]}
    run(loader, pg_db, [SCHEMA, record("1", name=TRICKY, assignee=nested, tags=[nested], domains=[TRICKY, ""]),
                        record("2", name="", minutes=0.1, likes=-(2**62))], tmp_path)
    rows = pg_reader.rows_by_key(pg_db, "public.things")
    assert rows["1"]["name"] == TRICKY and rows["1"]["assignee"] == nested and rows["1"]["tags"] == [nested]
    assert rows["1"]["domains"] == [TRICKY, ""]
    assert (rows["2"]["name"], rows["2"]["minutes"], rows["2"]["likes"]) == ("", Decimal("0.1"), -(2**62))
    # What orjson refuses (beyond 64 bits) goes through upstream's encoder; jsonb keeps every digit.
    run(loader, pg_db, [SCHEMA, record("3", assignee={"huge": 2**70, "tiny": 1e-300})], tmp_path)
    assert pg_reader.rows_by_key(pg_db, "public.things")["3"]["assignee"] == {"huge": 2**70, "tiny": 1e-300}


def test_a_line_that_is_not_json_fails_as_upstream_says(loader, pg_db, tmp_path):
    r = run(loader, pg_db, [SCHEMA, record("1"), '{"type": "RECORD", "stream": "things", "rec'], tmp_path,
            check=False)
    assert r.returncode == 1
    assert "Unable to parse line as JSON" in r.stderr.decode()


def test_upsert_within_and_across_batches(loader, pg_db, tmp_path):
    run(loader, pg_db, [SCHEMA, record("1", name="a"), record("2", name="b"), record("1", name="a2"),
                        record("3", name="c"), record("2", name="b2"), record("4", name="d"), record("1", name="a3")],
        tmp_path, batch_size_rows=2)
    assert sorted(pg_reader.query(pg_db, "SELECT gid, name FROM public.things")) == \
        [("1", "a3"), ("2", "b2"), ("3", "c"), ("4", "d")]
