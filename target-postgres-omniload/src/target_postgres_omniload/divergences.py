"""Every way target-postgres-omniload differs from meltanolabs-target-postgres 0.8.1.

The differences are subclasses, the extension points singer-sdk targets are
built for (target.py, sink.py, connector.py), not patched module globals.
UPSTREAM pins each upstream method we override or rely on by the SHA-256 of
its source; DIVERGENCES says, for each difference, which of those it
overrides, what upstream does, what we do, why, and the tests that guard
it.  pin.check_target() refuses to run on other upstream code;
tests/target/test_divergences.py checks that our classes override exactly
the registered methods and that README.md's table is markdown() of this
module (`python -m target_postgres_omniload --divergences`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Upstream:
    """An upstream method: `module.Class.method` under target_postgres (or
    `singer_sdk.module.Class.method`, for what target-postgres inherits), and
    the SHA-256 of its source."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Reliance:
    upstream: Upstream
    what: str


@dataclass(frozen=True)
class Divergence:
    id: str
    overrides: tuple[tuple[Upstream, str], ...]   # (upstream method, our Class.method replacing it)
    relies_on: tuple[Reliance, ...]
    upstream: str
    ours: str
    why: str
    tests: tuple[str, ...]    # pytest node ids, from the repository root


HANDLE_ARRAY_TYPE = Upstream("connector.PostgresConnector._handle_array_type",
                             "fd336ce6318f2cff866ce7a2f9aa1b8c19a5025ef5b3af4b03b6b20aa9953830")
JSONSCHEMA_TO_SQL = Upstream("connector.PostgresConnector.jsonschema_to_sql",
                             "829e4f330e387482378712570f7a87cefe2bdee880e904a917fcc7ef6247fa3b")
CREATE_ENGINE = Upstream("connector.PostgresConnector.create_engine",
                         "718bf15c4e359e159314c2265812b6d8d0d2489702605d354abee66778995dc1")
PROCESS_BATCH = Upstream("sinks.PostgresSink.process_batch",
                         "5b80eca8f94eee1097ec7946db30db566db6a8871a5f249d5159693802838bdb")
SERIALIZE_JSON = Upstream("connector.PostgresConnector.serialize_json",
                          "6811b72acfbc94a4b3470aaf1b105d4d7d80edb5feb0e842c7afedffcb809b73")
DESERIALIZE_JSON = Upstream("singer_sdk.io_base.SingerReader.deserialize_json",
                            "4dd8bbe877def9c3f2b7ae1f3ec0907f79be14b16f8376f8a09fb6441a092172")
UPSERT = Upstream("sinks.PostgresSink.upsert",
                  "86c71e435916dc99654334d828757ff4dbcdc91d1904dbb89ebfdac94590842e")
ACTIVATE_VERSION = Upstream("sinks.PostgresSink.activate_version",
                            "ff585c54c4997c4bfbe42ac727c1e41bc7b8c5a7d410fd75717368f7c375e7f1")
BULK_INSERT_RECORDS = Upstream("sinks.PostgresSink.bulk_insert_records",
                               "a6f066d5e83ab86913d7c35b74241da2e5fa88379140f018e6e5ae044f71f1a4")

UPSTREAM = (HANDLE_ARRAY_TYPE, JSONSCHEMA_TO_SQL, CREATE_ENGINE, PROCESS_BATCH, BULK_INSERT_RECORDS,
            ACTIVATE_VERSION, SERIALIZE_JSON, DESERIALIZE_JSON, UPSERT)

_T = "tests/target/test_target_postgres_omniload.py::"
_E = "tests/omniload/test_e2e.py::"

DIVERGENCES = (
    Divergence(
        id="p1",
        overrides=((HANDLE_ARRAY_TYPE, "OmniloadConnector._handle_array_type"),),
        relies_on=(),
        upstream="A JSON array is a Postgres array of its items' type: Asana's arrays of objects "
                 "(`memberships`, `tags`, `custom_fields`, …) become `jsonb[]`, arrays of strings `text[]`.",
        ours="Every array is one `jsonb` value (`memberships->0->'project'->>'name'`, "
             "`tags @> '[{\"name\": \"x\"}]'`, `jsonb_array_elements`).",
        why="What a Postgres user expects of JSON data, and what every JSON operator and index works on; "
            "the same meaning as the DuckDB destination's JSON columns.",
        tests=(f"{_T}test_column_types", f"{_E}test_each_table_equals_the_simulator"),
    ),
    Divergence(
        id="p2",
        overrides=((JSONSCHEMA_TO_SQL, "OmniloadConnector.jsonschema_to_sql"),
                   (CREATE_ENGINE, "OmniloadConnector.create_engine")),
        relies_on=(),
        upstream="A `date-time` string is a `timestamp without time zone` column: the instant's offset is "
                 "dropped, and what is stored depends on the session's TimeZone.",
        ours="`timestamptz`; the loader's sessions run in UTC, so a value without an offset is taken as UTC.",
        why="An instant stays the same instant for every reader, whatever their TimeZone.",
        tests=(f"{_T}test_column_types", f"{_T}test_instants_keep_their_offset"),
    ),
    Divergence(
        id="p3",
        overrides=((PROCESS_BATCH, "OmniloadSink.process_batch"),),
        relies_on=(Reliance(BULK_INSERT_RECORDS, "keeps the last record of each key in a batch"),),
        upstream="A tombstone (a record of only the key with `_sdc_deleted_at` set) is upserted like any "
                 "record: the row stays, every column NULL but the key and `_sdc_deleted_at`; `hard_delete` "
                 "applies to ACTIVATE_VERSION only.",
        ours="With `hard_delete` on, the row is deleted in the batch's transaction (the key's last record in "
             "the batch decides); without it, upstream's behaviour stands.",
        why="Tasks Asana no longer has (and, with `stories_incremental`, deleted stories) leave the table "
            "under `meltano run`, as they do with omniload and target-duckdb.",
        tests=(f"{_T}test_tombstones_delete_rows_with_hard_delete",),
    ),
    Divergence(
        id="p4",
        overrides=((ACTIVATE_VERSION, "OmniloadSink.activate_version"),),
        relies_on=(),
        upstream="Every ACTIVATE_VERSION deletes (`hard_delete`) or marks deleted the rows of older versions, "
                 "the one a tap sends BEFORE a full-table extract included: the table is empty while the "
                 "extract loads batch by batch (each batch commits on its own), and stays partial if the run dies.",
        ours="The first ACTIVATE_VERSION of a version only opens it; the next one with the same version (sent "
             "after the last record, as tap-asana and singer-io's taps do) does what upstream does. A run that "
             "dies in between deletes nothing; an extract that never closes its version deletes nothing.",
        why="Readers never see a full-table stream's table empty or half-loaded under `meltano run`, and "
            "a failed run loses no row.",
        tests=(f"{_T}test_activate_version_deletes_only_once_the_extract_is_complete",),
    ),
    Divergence(
        id="p6",
        overrides=((DESERIALIZE_JSON, "OrjsonReader.deserialize_json"),
                   (SERIALIZE_JSON, "OmniloadConnector.serialize_json"),
                   (UPSERT, "OmniloadSink.upsert")),
        relies_on=(),
        upstream="Each input line is parsed by the standard library (numbers with a fraction as Decimals), each "
                 "`jsonb` value serialized by simplejson's Python encoder, and each batch upserted by INSERTing "
                 "its new keys and then UPDATEing every key of the batch, the rows just inserted included.",
        ours="Lines are parsed and `jsonb` values serialized by orjson (a line orjson refuses, or with a run of 19 "
             "digits, which might be an integer beyond 64 bits, goes to upstream's parser; a Decimal is written "
             "digit for digit, an integer orjson cannot write goes to upstream's encoder); the upsert UPDATEs "
             "the keys the table has, then INSERTs the others: each row written once.",
        why="Speed: 20,000 Asana tasks through the loader alone (COPY, 2,000-row batches), 18.6 s wall and "
            "6.7 s CPU → 12.1 s with the upsert alone → 6.3 s and 3.8 s with orjson too (bench/RESULTS.md has "
            "the end-to-end figures). JSON numbers with a fraction are doubles in Asana: a float holds them as sent.",
        tests=(f"{_T}test_column_types", f"{_T}test_values_survive_byte_exact",
               f"{_T}test_a_line_that_is_not_json_fails_as_upstream_says",
               f"{_T}test_upsert_within_and_across_batches"),
    ),
    Divergence(
        id="p5",
        overrides=(),
        relies_on=(),
        upstream="A crash prints a traceback.",
        ours="One `target-postgres-omniload failed: <Type>: <message>` line before it; the exit status stays 1.",
        why="omniload and people read the first line.",
        tests=(f"{_T}test_a_failure_is_one_line_then_exit_1",),
    ),
)


def registry_problems() -> list[str]:
    problems = []
    ids = [d.id for d in DIVERGENCES]
    if len(set(ids)) != len(ids):
        problems.append(f"divergence ids repeat: {ids}")
    used = {u for d in DIVERGENCES for u, _ in d.overrides} | {r.upstream for d in DIVERGENCES for r in d.relies_on}
    problems += [f"{u.name} is used but not pinned" for u in used - set(UPSTREAM)]
    problems += [f"{u.name} is pinned but no divergence uses it" for u in set(UPSTREAM) - used]
    problems += [f"divergence {d.id} names no test" for d in DIVERGENCES if not d.tests]
    return problems


def rows_using(upstream: Upstream) -> list[str]:
    return [d.id for d in DIVERGENCES
            if upstream in [u for u, _ in d.overrides] or upstream in [r.upstream for r in d.relies_on]]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """README.md's tables."""
    out = ["| # | overrides | target-postgres 0.8.1 | target-postgres-omniload | why | guarded by |",
           "|---|---|---|---|---|---|"]
    for d in DIVERGENCES:
        overrides = "<br>".join(f"`{ours}`" for _, ours in d.overrides) or "– (`main`)"
        tests = "<br>".join(f"`{t.removeprefix(_T).removeprefix('tests/')}`" for t in d.tests)
        out.append(f"| {d.id} | {overrides} | {_cell(d.upstream)} | {_cell(d.ours)} | {_cell(d.why)} | {tests} |")
    out += ["", "| upstream method (pinned by its source's SHA-256) | rows | what the rows rely on it to keep doing "
            "| SHA-256 |", "|---|---|---|---|"]
    for u in UPSTREAM:
        relied = "; ".join(dict.fromkeys(r.what for d in DIVERGENCES for r in d.relies_on if r.upstream == u))
        out.append(f"| `{u.name}` | {' '.join(rows_using(u))} | {_cell(relied) or '–'} | `{u.sha256[:16]}…` |")
    return "\n".join(out) + "\n"
