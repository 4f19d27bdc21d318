"""The target-duckdb-omniload console script, run for real on hand-written Singer messages."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest


def schema(stream, properties, key_properties=("id",), **extra):
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": list(key_properties),
        **extra,
    }


def record(stream, rec, **extra):
    return {"type": "RECORD", "stream": stream, "record": rec, **extra}


def state(value):
    return {"type": "STATE", "value": value}


def bookmark(stream, value):
    return {"bookmarks": {stream: {"id": value}}}


def emitted_states(result):
    return [json.loads(line) for line in result.stdout_text.splitlines() if line.strip()]


def load_count(result):
    """How many batches the target loaded (one 'Loading N rows' log line each)."""
    return result.stderr_text.count("message=Loading ")


# Asana-like: string gids.  With all-VARCHAR columns duckdb's CSV sniffer
# takes any first line for a header, so the upstream bug always shows.
TASK = {"id": {"type": "string"}, "name": {"type": ["null", "string"]}}


def tasks(ids, name="task {}"):
    return [record("tasks", {"id": str(i), "name": name.format(i)}) for i in ids]


# --- the data-loss bug ----------------------------------------------------------


# Level 0 loads batches as JSON lines (our path); level 1 goes through
# 0.8.0's CSV path, where the HEADER false fix for the data-loss bug lives.
@pytest.mark.parametrize("flattening", [0, 1])
def test_one_record_gives_exactly_one_row(target, flattening):
    target.run(
        [schema("tasks", TASK), *tasks([1]), state(bookmark("tasks", 1))],
        config=target.config(data_flattening_max_level=flattening),
    )
    assert target.query("SELECT id::INT, name FROM public.tasks") == [(1, "task 1")]


@pytest.mark.parametrize("flattening", [0, 1])
def test_many_batches_lose_no_row(target, flattening):
    target.run(
        [schema("tasks", TASK), *tasks(range(1, 1002))],
        config=target.config(data_flattening_max_level=flattening, batch_size_rows=100),
    )
    assert target.query("SELECT count(*), count(DISTINCT id) FROM public.tasks") == [(1001, 1001)]


@pytest.mark.upstream_bug
def test_plain_target_duckdb_loses_the_single_record(plain_target):
    """jwills/target-duckdb 0.8.0 + duckdb >= 1.1: a 1-row batch vanishes, exit status 0.

    If this fails, the installed upstream keeps the row: a release with
    PR #58 (HEADER false) is in use, so target-duckdb-omniload's workaround can go.
    """
    result = plain_target.run([schema("tasks", TASK), *tasks([1]), state(bookmark("tasks", 1))])
    assert result.returncode == 0
    rows = plain_target.query("SELECT count(*) FROM public.tasks")[0][0]
    assert rows == 0, "upstream target-duckdb no longer drops the row: drop the COPY workaround"
    assert emitted_states(result)[-1] == bookmark("tasks", 1)  # and STATE moved past it


# The CSV path (flattening on): the COPY reads the dialect the writer used,
# and the file is UTF-8 whatever the locale (here one whose encoding is ASCII).
ASCII_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@pytest.mark.parametrize("dialect, env", [
    ({}, {}), ({"delimiter": "|", "quotechar": "'"}, {}), ({"delimiter": ";"}, {}), ({}, ASCII_LOCALE),
])
def test_csv_batches_keep_strings_byte_exact(target, dialect, env):
    props = {"id": {"type": "integer"}, "text": {"type": ["null", "string"]}}
    messages = [schema("texts", props)]
    messages += [record("texts", {"id": i, "text": t}) for i, t in enumerate(TEXTS)]
    target.run(messages, config=target.config(data_flattening_max_level=1, **dialect), env=env)
    assert target.query("SELECT text FROM public.texts ORDER BY id") == [(t,) for t in TEXTS]


@pytest.mark.parametrize("flattening", [0, 1])
def test_a_failing_batch_leaves_no_table_and_no_file(target, flattening):
    """A batch DuckDB refuses (a string where the schema says integer) fails
    the run and leaves neither its staging table in the file nor its batch
    file in temp_dir."""
    batches = target.tmp_path / "batches"
    batches.mkdir()
    props = {"id": {"type": "integer"}, "count": {"type": ["null", "integer"]}}
    result = target.run([schema("counts", props), record("counts", {"id": 1, "count": 1}),
                         record("counts", {"id": 2, "count": "many"})],
                        config=target.config(data_flattening_max_level=flattening, temp_dir=str(batches)),
                        check=False)
    assert result.returncode != 0
    assert target.query("SELECT table_schema, table_name FROM information_schema.tables") == [
        ("public", "counts")]
    assert list(batches.iterdir()) == []
    assert "target-duckdb-omniload failed" in result.stderr_text


def test_a_stream_of_key_columns_only_loads(target):
    """0.8.0 crashes on such a stream (its UPDATE statement is None)."""
    props = {"gid": {"type": "string"}}
    target.run([schema("links", props, key_properties=["gid"]),
                *[record("links", {"gid": g}) for g in ("a", "b")]])
    target.run([schema("links", props, key_properties=["gid"]),
                *[record("links", {"gid": g}) for g in ("b", "c")]])
    assert target.query("SELECT gid FROM public.links ORDER BY gid") == [("a",), ("b",), ("c",)]


def test_two_records(target):
    target.run([schema("tasks", TASK), *tasks([1, 2])])
    assert target.query("SELECT id::INT, name FROM public.tasks ORDER BY id::INT") == [
        (1, "task 1"),
        (2, "task 2"),
    ]


def test_many_records_in_one_batch(target):
    ids = range(1, 2001)
    target.run([schema("tasks", TASK), *tasks(ids)])
    assert target.query("SELECT id::INT, name FROM public.tasks ORDER BY id::INT") == [
        (i, f"task {i}") for i in ids
    ]


def test_several_streams_in_several_batches(target):
    project = {"gid": {"type": "string"}, "title": {"type": ["null", "string"]}}
    messages = [schema("tasks", TASK), schema("projects", project, key_properties=["gid"])]
    for i in range(1, 11):
        messages.append(record("tasks", {"id": str(i), "name": f"task {i}"}))
        if i <= 7:
            messages.append(record("projects", {"gid": f"p{i}", "title": f"project {i}"}))
    result = target.run(messages, config=target.config(batch_size_rows=3))
    assert load_count(result) == 4 + 3  # 10 tasks in 3+3+3+1, 7 projects in 3+3+1
    assert target.query("SELECT id::INT, name FROM public.tasks ORDER BY id::INT") == [
        (i, f"task {i}") for i in range(1, 11)
    ]
    assert target.query("SELECT gid, title FROM public.projects ORDER BY gid") == [
        (f"p{i}", f"project {i}") for i in range(1, 8)
    ]


# --- values and types ---------------------------------------------------------

TEXTS = [
    "héllo wörld — ✓ 日本語 🦆",
    'a,b,"c"\nline 2\r\nline 3\rline 4',
    "  leading and trailing spaces  ",
    '"',
    '""',
    ",",
    "'single' quotes; semi;colons|pipes\ttabs",
    "\\N",
    "NULL",
    "back\\slash\\",
    "x" * 10000,
]


def test_strings_survive_byte_exact(target):
    props = {"id": {"type": "integer"}, "text": {"type": ["null", "string"]}}
    messages = [schema("texts", props)]
    messages += [record("texts", {"id": i, "text": t}) for i, t in enumerate(TEXTS)]
    target.run(messages)
    assert target.query("SELECT text FROM public.texts ORDER BY id") == [(t,) for t in TEXTS]


def test_empty_string_is_kept_apart_from_null(target):
    """0.8.0's CSV path stores "" as NULL; our JSON-lines load keeps it."""
    props = {"id": {"type": "integer"}, "text": {"type": ["null", "string"]}}
    target.run([schema("texts", props), record("texts", {"id": 1, "text": ""}),
                record("texts", {"id": 2, "text": None})])
    assert target.query("SELECT id, text FROM public.texts ORDER BY id") == [(1, ""), (2, None)]


def test_values_orjson_cannot_encode_still_load(target):
    """Batches are encoded with orjson, which refuses integers beyond 64 bits;
    such a record falls back to json and loads exactly like the others."""
    props = {"id": {"type": "integer"}, "count": {"type": ["null", "integer"]},
             "extra": {"type": ["null", "object"], "properties": {}},
             "text": {"type": ["null", "string"]}}
    huge = 2**70
    target.run([schema("values", props),
                record("values", {"id": 1, "count": huge, "extra": {"n": huge}, "text": "ok é"}),
                record("values", {"id": 2, "count": 5, "extra": {"n": 5}, "text": "ok 😀"})])
    assert target.query(
        "SELECT id, count::VARCHAR, extra::VARCHAR, text FROM public.values ORDER BY id") == [
        (1, str(huge), f'{{"n":{huge}}}', "ok é"), (2, "5", '{"n":5}', "ok 😀")]


def test_nan_and_infinity_load_as_null(target):
    """Not JSON, but Python's json reads NaN/Infinity from a Singer line: they
    load as NULL (orjson writes null), never as a failed batch."""
    props = {"id": {"type": "integer"}, "ratio": {"type": ["null", "number"]}}
    target.run([schema("values", props), record("values", {"id": 1, "ratio": float("nan")}),
                record("values", {"id": 2, "ratio": float("inf")}),
                record("values", {"id": 3, "ratio": 0.5})])
    assert target.query("SELECT id, ratio FROM public.values ORDER BY id") == [
        (1, None), (2, None), (3, 0.5)]


VALUE_PROPS = {
    "id": {"type": "integer"},
    "assignee": {
        "type": ["null", "object"],
        "properties": {"gid": {"type": "string"}, "name": {"type": "string"}},
    },
    "tags": {
        "type": ["null", "array"],
        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
    "anything": {},
    "modified_at": {"type": ["null", "string"], "format": "date-time"},
    "due_on": {"type": ["null", "string"], "format": "date"},
    "completed": {"type": ["null", "boolean"]},
    "ratio": {"type": ["null", "number"]},
    "count": {"type": ["null", "integer"]},
}


def test_values_and_column_types(target):
    records = [
        {
            "id": 1,
            "assignee": {"gid": "42", "name": "Zoë, \"the\" boss"},
            "tags": [{"name": "a"}, {"name": "b"}],
            "anything": "just a string",
            "modified_at": "2024-01-02T10:00:00+02:00",
            "due_on": "2024-02-29",
            "completed": True,
            "ratio": 3.25,
            "count": 2**70,
        },
        {
            "id": 2,
            "assignee": None,
            "tags": [],
            "anything": {"k": [1, 2]},
            "modified_at": "2024-01-02T23:30:00.123456-05:00",
            "due_on": None,
            "completed": False,
            "ratio": -0.5,
            "count": 0,
        },
        {
            "id": 3,
            "modified_at": "2024-01-02T10:00:00.5Z",
            "completed": None,
            "ratio": 0,
            "count": -7,
        },
        {"id": 4, "modified_at": "2024-06-30T12:00:00"},
    ]
    target.run([schema("tasks", VALUE_PROPS), *[record("tasks", r) for r in records]])

    types = dict(target.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'tasks'"
    ))
    assert types == {
        "id": "HUGEINT",
        "assignee": "JSON",
        "tags": "JSON",
        "anything": "JSON",
        "modified_at": "TIMESTAMP",
        "due_on": "DATE",
        "completed": "BOOLEAN",
        "ratio": "DOUBLE",
        "count": "HUGEINT",
    }

    rows = target.query(
        "SELECT id, assignee->>'name', assignee->>'gid', tags->0->>'name', json_array_length(tags), "
        "anything, modified_at, due_on, completed, ratio, count FROM public.tasks ORDER BY id"
    )
    # JSON columns compared as JSON: the stored text's spacing is not the data
    rows = [r[:5] + (None if r[5] is None else json.loads(r[5]),) + r[6:] for r in rows]
    assert rows == [
        (1, 'Zoë, "the" boss', "42", "a", 2, "just a string",
         datetime(2024, 1, 2, 8, 0), date(2024, 2, 29), True, 3.25, 2**70),
        (2, None, None, None, 0, {"k": [1, 2]},
         datetime(2024, 1, 3, 4, 30, 0, 123456), None, False, -0.5, 0),
        (3, None, None, None, None, None,
         datetime(2024, 1, 2, 10, 0, 0, 500000), None, None, 0.0, -7),
        (4, None, None, None, None, None,
         datetime(2024, 6, 30, 12, 0), None, None, None, None),
    ]
    assert target.query("SELECT anything->'k'->>1 FROM public.tasks WHERE id = 2") == [("2",)]


def test_metadata_columns_are_utc(target):
    props = {"id": {"type": "integer"}}
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    target.run(
        [schema("tasks", props),
         record("tasks", {"id": 1}, time_extracted="2024-01-02T10:00:00+02:00")],
        config=target.config(add_metadata_columns=True),
        env={"TZ": "Asia/Kolkata"},  # +05:30, so local time would be obvious
    )
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    [(extracted, batched)] = target.query(
        "SELECT _sdc_extracted_at, _sdc_batched_at FROM public.tasks"
    )
    assert extracted == datetime(2024, 1, 2, 8, 0)
    assert before - timedelta(seconds=5) <= batched <= after + timedelta(seconds=5)


# --- upsert ---------------------------------------------------------------------


def test_upsert_on_key_properties(target):
    target.run([schema("tasks", TASK), *tasks([1, 2, 3])])
    target.run([
        schema("tasks", TASK),
        record("tasks", {"id": "2", "name": "changed"}),
        record("tasks", {"id": "4", "name": "new"}),
        record("tasks", {"id": "5", "name": "first"}),
        record("tasks", {"id": "5", "name": "last wins"}),
    ])
    assert target.query("SELECT id::INT, name FROM public.tasks ORDER BY id::INT") == [
        (1, "task 1"), (2, "changed"), (3, "task 3"), (4, "new"), (5, "last wins"),
    ]


# --- SCHEMA messages -------------------------------------------------------------


def test_repeated_identical_schema_does_not_flush(target):
    messages = []
    for i in range(1, 51):  # the singer-sdk child-stream pattern: SCHEMA per parent
        messages += [schema("tasks", TASK), *tasks([i])]
    result = target.run(messages)
    assert load_count(result) == 1
    assert target.query("SELECT count(*), count(DISTINCT id) FROM public.tasks") == [(50, 50)]


def test_changed_schema_still_applies(target):
    wider = {**TASK, "notes": {"type": ["null", "string"]}}
    result = target.run([
        schema("tasks", TASK), *tasks([1]),
        schema("tasks", TASK), *tasks([2]),
        schema("tasks", wider), record("tasks", {"id": "3", "name": "task 3", "notes": "n"}),
        schema("tasks", wider), record("tasks", {"id": "4", "name": "task 4", "notes": "m"}),
    ])
    assert load_count(result) == 2
    assert target.query("SELECT id::INT, name, notes FROM public.tasks ORDER BY id::INT") == [
        (1, "task 1", None), (2, "task 2", None), (3, "task 3", "n"), (4, "task 4", "m"),
    ]


# --- STATE ------------------------------------------------------------------------


def test_state_is_emitted_after_records_are_flushed(target):
    result = target.run(
        [schema("tasks", TASK), state(bookmark("tasks", 0)),
         *tasks([1, 2]), state(bookmark("tasks", 2)),
         *tasks([3, 4]), state(bookmark("tasks", 4))],
        config=target.config(batch_size_rows=2),
    )
    # After the 1st batch the latest STATE read is still bookmark 0, after the
    # 2nd it is 2; the tap's final STATE (4) comes after the last flush and is
    # emitted by our wrapper at the end (plain 0.8.0 stops at 2).
    assert emitted_states(result) == [
        bookmark("tasks", 0), bookmark("tasks", 2), bookmark("tasks", 2), bookmark("tasks", 4),
    ]
    assert target.query("SELECT count(*) FROM public.tasks") == [(4,)]


def test_run_without_records_emits_last_state(target):
    result = target.run([schema("tasks", TASK), state(bookmark("tasks", 1)), state(bookmark("tasks", 2))])
    assert emitted_states(result)[-1] == bookmark("tasks", 2)


def test_state_is_never_ahead_of_data_when_the_target_crashes(target):
    result = target.run(
        [schema("tasks", TASK), state(bookmark("tasks", 0)),
         *tasks([1, 2]), state(bookmark("tasks", 2)),
         *tasks([3]), state(bookmark("tasks", 3)),
         "this is not json"],
        config=target.config(batch_size_rows=2),
        check=False,
    )
    assert result.returncode != 0
    assert "target-duckdb-omniload failed: JSONDecodeError" in result.stderr_text
    assert emitted_states(result) == [bookmark("tasks", 0)]
    assert target.query("SELECT id::INT FROM public.tasks ORDER BY id::INT") == [(1,), (2,)]


# --- errors ------------------------------------------------------------------------


def test_locked_database_exits_non_zero_with_a_clear_error(target):
    holder = duckdb.connect(str(target.db_path))  # another read-write process... ours
    try:
        result = target.run([schema("tasks", TASK), *tasks([1])], check=False)
    finally:
        holder.close()
    assert result.returncode != 0
    assert "target-duckdb-omniload failed: IOException" in result.stderr_text
    assert "Could not set lock on file" in result.stderr_text
    assert result.stdout_text == ""


def test_batch_message_exits_non_zero(target):
    batch = {"type": "BATCH", "stream": "tasks", "encoding": {"format": "jsonl"}, "manifest": []}
    result = target.run([schema("tasks", TASK), batch], check=False)
    assert result.returncode != 0
    assert "Unknown message type BATCH" in result.stderr_text


def test_refuses_to_run_on_changed_target_internals(target_python, tmp_path):
    script = tmp_path / "changed_target.py"
    script.write_text(
        "import target_duckdb.db_sync as db_sync\n"
        "db_sync.DbSync.load_rows = lambda self, records, count, temp_dir: None\n"
        "import target_duckdb_omniload\n"
        "target_duckdb_omniload.main()\n"
    )
    result = subprocess.run(
        [str(target_python), str(script)], input=b"", capture_output=True, timeout=60
    )
    assert result.returncode != 0
    assert b"IncompatibleTargetError" in result.stderr
    assert b"source of target_duckdb.db_sync.DbSync.load_rows changed" in result.stderr


# --- the database file ---------------------------------------------------------------


def test_database_created_beforehand_with_duckdb_2_loads(target):
    assert duckdb.__version__ == "2.0.1"
    with duckdb.connect(str(target.db_path)) as con:
        con.execute("CREATE TABLE main.keep_me AS SELECT 42 AS answer")
        con.execute("CREATE SCHEMA public")
    target.run([schema("tasks", TASK), *tasks([1, 2, 3])])
    assert target.query("SELECT count(*) FROM public.tasks") == [(3,)]
    assert target.query("SELECT answer FROM main.keep_me") == [(42,)]


def test_an_sqlite_file_is_refused_without_an_extension_download(target, tmp_path):
    """DuckDB would fetch its sqlite extension to attach such a file; with
    extension auto-install and auto-load off, the load fails at once."""
    import sqlite3

    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(target.db_path) as con:
        con.execute("CREATE TABLE t (x)")
    before = target.db_path.read_bytes()
    result = target.run([schema("tasks", TASK), *tasks([1])], env={"HOME": str(home)}, check=False)
    assert result.returncode != 0
    assert list(home.iterdir()) == []  # no ~/.duckdb/extensions
    assert target.db_path.read_bytes() == before
    assert 'Extension "sqlite" is an existing extension' in result.stderr_text
    assert "target-duckdb-omniload failed" in result.stderr_text


def test_loads_under_a_memory_limit(target):
    """omniload caps DuckDB's memory so the loader stays flat; the JSON-lines
    load must work under that cap (a 1 GiB, then a 64 MiB max object size
    once did not), records of several MB included."""
    from omniload_cli.destinations.duckdb import BATCH_SIZE_ROWS, MEMORY_LIMIT

    big = {**tasks([3001])[0]}
    big["record"] = {**big["record"], "name": "n" * (3 * 1024 * 1024)}   # 3 MB in one record
    target.run(
        [schema("tasks", TASK), *tasks(range(1, 3001)), big],
        config=target.config(batch_size_rows=BATCH_SIZE_ROWS, settings={"memory_limit": MEMORY_LIMIT}),
    )
    assert target.query("SELECT count(*), max(length(name)) FROM public.tasks") == [(3001, 3 * 1024 * 1024)]


# --- ACTIVATE_VERSION -------------------------------------------------------------


def activate(stream, version):
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def test_activate_version_removes_the_rows_the_extract_did_not_send(target):
    target.run([schema("tasks", TASK), *tasks([1, 2, 3, 4])])
    target.run([schema("tasks", TASK), activate("tasks", 2),
                *[record("tasks", {"id": str(i), "name": f"v2 {i}"}, version=2) for i in (2, 4, 5)],
                activate("tasks", 2)])
    assert target.query("SELECT id::INT, name FROM public.tasks ORDER BY id::INT") == [
        (2, "v2 2"), (4, "v2 4"), (5, "v2 5"),
    ]


def test_activate_version_without_records_empties_the_table(target):
    target.run([schema("tasks", TASK), *tasks([1, 2])])
    target.run([schema("tasks", TASK), activate("tasks", 3), activate("tasks", 3)])
    assert target.query("SELECT count(*) FROM public.tasks") == [(0,)]


def test_streams_without_activate_version_only_upsert(target):
    target.run([schema("tasks", TASK), *tasks([1, 2]), schema("other", TASK),
                record("other", {"id": "9", "name": "x"})])
    target.run([schema("tasks", TASK), activate("tasks", 2), *tasks([2]), activate("tasks", 2),
                schema("other", TASK), record("other", {"id": "8", "name": "y"})])
    assert target.query("SELECT id FROM public.tasks") == [("2",)]
    assert target.query("SELECT id FROM public.other ORDER BY id") == [("8",), ("9",)]


def test_a_load_that_fails_before_its_end_removes_nothing(target):
    target.run([schema("tasks", TASK), *tasks([1, 2, 3])])
    result = target.run([schema("tasks", TASK), activate("tasks", 2), *tasks([1]), "not json"],
                        check=False)
    assert result.returncode != 0
    assert target.query("SELECT count(*) FROM public.tasks") == [(3,)]


def test_an_extract_that_stopped_before_its_closing_version_removes_nothing(target):
    """The tap died half-way and the loader still saw a clean end of input."""
    target.run([schema("tasks", TASK), *tasks([1, 2, 3])])
    target.run([schema("tasks", TASK), activate("tasks", 2), *tasks([1])])
    assert target.query("SELECT count(*) FROM public.tasks") == [(3,)]
