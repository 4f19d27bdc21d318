"""Every way target-duckdb-omniload differs from target-duckdb 0.8.0, in one place.

UPSTREAM pins each target-duckdb object we replace, wrap or rely on by the
SHA-256 of its source; PATCHES says which of them are rebound to which of our
functions; DIVERGENCES says, for each difference, which of those objects it
touches, what 0.8.0 does, what we do, why, and which tests guard it.

pin.check_target() checks exactly the objects in UPSTREAM, and
patches.apply_patches() applies exactly PATCHES (and SETUP), after
registry_problems() confirms the three agree.  README.md's divergence table
is markdown() of this module (`python -m target_duckdb_omniload --divergences`);
tests/target/test_divergences.py checks it is current, that every guarding
test exists, and that applying the patches changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_duckdb_omniload import column_types, connect, loading, overheads, persist


@dataclass(frozen=True)
class Upstream:
    """A target-duckdb 0.8.0 object: its name (upstream.py's dotted form) and
    the SHA-256 of inspect.getsource() of it."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Patch:
    """`upstream` rebound to `replacement` (at each name in `at`, default
    the upstream name itself).  `how`: "replaced" (0.8.0's body no longer
    runs) or "wrapped" (ours calls it)."""

    upstream: Upstream
    replacement: Callable[..., Any]
    how: str
    at: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.at or (self.upstream.name,)


@dataclass(frozen=True)
class Reliance:
    """What a divergence needs an upstream object, unchanged, to keep doing."""

    upstream: Upstream
    what: str


@dataclass(frozen=True)
class Divergence:
    id: str
    changes: tuple[Upstream, ...]  # patched (PATCHES) to make the difference
    relies_on: tuple[Reliance, ...]
    upstream: str  # what target-duckdb 0.8.0 does
    ours: str  # what target-duckdb-omniload does instead
    why: str
    tests: tuple[str, ...]  # pytest node ids, from the repository root
    upstream_main: str = ""  # what upstream's unreleased main branch has, if it has a fix


LOAD_ROWS = Upstream("db_sync.DbSync.load_rows", "5b49343dfb02a4e5f6685972f42f1758a23387f132dc868981bca1dddc7883ae")
RECORD_PRIMARY_KEY_STRING = Upstream("db_sync.DbSync.record_primary_key_string",
                                     "2d7735e4834032508aa30f10d30db1c11ddbb0a1df0de65580a2aad35910e419")
CREATE_TABLE_QUERY = Upstream("db_sync.DbSync.create_table_query",
                              "fb6c2c168c2fb19ad73b22b623cf8484526afe155b0e1a887a305b84616736d6")
UPDATE_FROM_TEMP_TABLE = Upstream("db_sync.DbSync.update_from_temp_table",
                                  "0f8ff49b7a460f0187597a5e6ab932d9503bfe955ecbd504dbbecfff3f5386bb")
RECORD_TO_FLATTENED = Upstream("db_sync.DbSync.record_to_flattened",
                               "bf1095323998e1b9af1ef93ab97af4d86ad23e24d81c9348769494a5408cbc52")
COLUMN_TYPE = Upstream("db_sync.column_type", "fb20f178e23264e75dc67f1829565340be39c98646ad3406171633062d7c2481")
FLATTEN_SCHEMA = Upstream("db_sync.flatten_schema", "d887fac556ba9680cb5e0ebd098a423f7c9c462f7359f2d0ab814106d4021ef9")
ADD_METADATA_VALUES_TO_RECORD = Upstream("add_metadata_values_to_record",
                                         "1b4100c1513a99f57f7e5485afab533d3cc652cb51b38a5a7eb4e86decdd0b0d")
PERSIST_LINES = Upstream("persist_lines", "df4a2f776fc2bb170f114ddd3d6d51fff97b91d8747f90536b85ac841930b2ca")
EMIT_STATE = Upstream("emit_state", "503f0e8980dfb8f21fe785688b9f84e431d311f13998c544731382284f2f1b7e")
GET_LOGGER = Upstream("logger.get_logger", "62b8e3341253325bdd27205df206b9cb7924aec505164f4cfba6131414b4b25b")
DUCKDB_CONNECT = Upstream("duckdb_connect", "253909274f9b409d7a27613f1b9b8fd384c1e17506e265aa86c846638bedb105")
MAIN = Upstream("main", "340478f619216ed0dd86ff181099d58cbef227d76f87e03fc027ce3f5d83db3d")

UPSTREAM = (
    LOAD_ROWS, RECORD_PRIMARY_KEY_STRING, CREATE_TABLE_QUERY, UPDATE_FROM_TEMP_TABLE, RECORD_TO_FLATTENED,
    COLUMN_TYPE, FLATTEN_SCHEMA, ADD_METADATA_VALUES_TO_RECORD, PERSIST_LINES, EMIT_STATE, GET_LOGGER,
    DUCKDB_CONNECT, MAIN,
)

PATCHES = (
    Patch(LOAD_ROWS, loading.load_rows, "replaced"),
    Patch(RECORD_PRIMARY_KEY_STRING, loading.record_primary_key_string, "wrapped"),
    Patch(COLUMN_TYPE, column_types.column_type, "wrapped"),
    Patch(FLATTEN_SCHEMA, column_types.flatten_schema, "wrapped"),
    Patch(ADD_METADATA_VALUES_TO_RECORD, column_types.add_metadata_values_to_record, "wrapped"),
    Patch(PERSIST_LINES, persist.persist_lines, "wrapped"),
    Patch(EMIT_STATE, persist.emit_state, "wrapped"),
    # db_sync and target_duckdb each import get_logger by name.
    Patch(GET_LOGGER, overheads.get_logger, "wrapped", at=("db_sync.get_logger", "get_logger")),
    Patch(DUCKDB_CONNECT, connect.duckdb_connect, "replaced"),
)

# Process settings rather than rebound names (row e2).
SETUP: tuple[Callable[[], None], ...] = (overheads.collect_garbage_less_often,)

_T = "tests/target/test_target_duckdb_omniload.py::"
_R = "tests/reliability/"

_CALLED_BY_MODULE_NAME = Reliance(
    MAIN, "looks up `duckdb_connect` and `persist_lines` as module globals when it runs, so the patched ones run")
_FLUSHES_BEFORE_RETURNING = Reliance(
    PERSIST_LINES, "returns normally only after flushing every buffered record into its table")

DIVERGENCES = (
    Divergence(
        id="a1",
        changes=(LOAD_ROWS,),
        relies_on=(),
        upstream="Loads each batch from a header-less CSV with `COPY tmp FROM 'file' WITH (new_line '\\r\\n')`. "
                 "From duckdb 1.1 on, the CSV sniffer guesses whether line 1 is a header, and with all-VARCHAR "
                 "columns (string gids) it decides it is: the first record of every batch is dropped, a "
                 "1-record batch loads nothing, the exit status is 0 and the STATE moves past the lost rows.",
        ours="The COPY says `HEADER false` (and the dialect, row a2).",
        why="Silent data loss.",
        tests=(f"{_T}test_one_record_gives_exactly_one_row", f"{_T}test_many_batches_lose_no_row",
               f"{_T}test_plain_target_duckdb_loses_the_single_record"),
        upstream_main="fixed by PR #58 (`HEADER false`), merged, not released",
    ),
    Divergence(
        id="a2",
        changes=(LOAD_ROWS,),
        relies_on=(),
        upstream="The `delimiter`/`quotechar` config keys reach the CSV writer but not the COPY, which leaves "
                 "the dialect to the sniffer; the CSV is written in the locale's encoding with text-mode newline "
                 "translation.",
        ours="`COPY … (FORMAT csv, HEADER false, DELIMITER, QUOTE, ESCAPE, NEW_LINE '\\r\\n')` as the writer "
             "wrote it; the CSV written as UTF-8 with `newline=\"\"`.",
        why="A guessed dialect or a non-UTF-8 locale garbles or drops values with quotes, delimiters, newlines or "
            "non-ASCII text. Only with `data_flattening_max_level` > 0: otherwise batches are JSON lines (d1).",
        tests=(f"{_T}test_csv_batches_keep_strings_byte_exact",),
    ),
    Divergence(
        id="a3",
        changes=(LOAD_ROWS,),
        relies_on=(Reliance(CREATE_TABLE_QUERY, "returns `CREATE TABLE …`, which we make `CREATE TEMP TABLE …`"),),
        upstream="The batch's `tmp_<uuid>` table is a real table in schema `main`, and the batch file is "
                 "removed only after a successful load.",
        ours="The table is created `TEMP` (connection-local, never written to the file); the batch file is "
             "removed even when the load fails.",
        why="A load killed or failing (disk full) between the CREATE and the DROP left the table in the user's "
            "database for good, and the file in `temp_dir`.",
        tests=(f"{_T}test_a_failing_batch_leaves_no_table_and_no_file",
               f"{_R}test_disk_and_lock.py::test_disk_full_during_the_run"),
    ),
    Divergence(
        id="a4",
        changes=(LOAD_ROWS,),
        relies_on=(Reliance(UPDATE_FROM_TEMP_TABLE, "returns None when every column is a key"),),
        upstream="A stream whose every column is a key column crashes the load (`execute(None)`).",
        ours="The UPDATE is skipped (there is nothing to update); the INSERT of new keys runs.",
        why="Such a stream could not be loaded at all.",
        tests=(f"{_T}test_a_stream_of_key_columns_only_loads",),
    ),
    Divergence(
        id="b1",
        changes=(LOAD_ROWS,),
        relies_on=(Reliance(RECORD_TO_FLATTENED, "returns a row in `flatten_schema`'s column order"),),
        upstream="A `date-time` value with an offset is cast to `TIMESTAMP` by dropping the offset "
                 "(`10:00+02:00` is stored as `10:00`).",
        ours="Values are converted to UTC before they are loaded; the column stays `TIMESTAMP` (UTC by "
             "convention). A value without an offset is taken as UTC; one Python cannot parse (year > 9999) "
             "reaches DuckDB unchanged.",
        why="Times from sources in different offsets would not compare.",
        tests=(f"{_T}test_values_and_column_types", f"{_T}test_metadata_columns_are_utc"),
    ),
    Divergence(
        id="b2",
        changes=(ADD_METADATA_VALUES_TO_RECORD,),
        relies_on=(Reliance(PERSIST_LINES, "calls `add_metadata_values_to_record` as a module global"),),
        upstream="`_sdc_batched_at` = `datetime.now()`, the machine's local time.",
        ours="UTC.",
        why="Every other timestamp is UTC (b1).",
        tests=(f"{_T}test_metadata_columns_are_utc",),
    ),
    Divergence(
        id="b3",
        changes=(COLUMN_TYPE,),
        relies_on=(),
        upstream="A `format: date` string is a `VARCHAR` column.",
        ours="`DATE`. A table created earlier with `VARCHAR` gets the target's usual column versioning "
             "(`due_on` → `due_on_YYYYMMDD_HHMM`, a new `DATE` column).",
        why="Dates compare and sort as dates.",
        tests=(f"{_T}test_values_and_column_types",),
        upstream_main="`DATE` since PR #54, not released (for any type with `format: date`; ours only for "
                      "strings)",
    ),
    Divergence(
        id="b4",
        changes=(FLATTEN_SCHEMA,),
        relies_on=(),
        upstream="A property whose schema is `{}` (singer-sdk's `AnyType`) is silently dropped.",
        ours="It is a `JSON` column (each value JSON-encoded; a JSON `null` is stored as JSON `null`, not SQL "
             "NULL).",
        why="Silent data loss.",
        tests=(f"{_T}test_values_and_column_types",),
    ),
    Divergence(
        id="c1",
        changes=(PERSIST_LINES,),
        relies_on=(
            Reliance(PERSIST_LINES, "a SCHEMA identical to the stream's last one changes nothing but the flush"),
            _CALLED_BY_MODULE_NAME,
        ),
        upstream="Every SCHEMA message flushes its stream and re-syncs the table, and singer-sdk re-sends a "
                 "child stream's SCHEMA per parent record: one load per parent.",
        ours="A SCHEMA identical to the last one seen for its stream is dropped before the target sees it; a "
             "changed one goes through. RECORD lines are not parsed for this.",
        why="Speed: one load per parent record instead of one per batch.",
        tests=(f"{_T}test_repeated_identical_schema_does_not_flush", f"{_T}test_changed_schema_still_applies"),
    ),
    Divergence(
        id="c2",
        changes=(PERSIST_LINES, EMIT_STATE),
        relies_on=(
            _FLUSHES_BEFORE_RETURNING,
            Reliance(PERSIST_LINES, "calls `emit_state` as a module global"),
            _CALLED_BY_MODULE_NAME,
        ),
        upstream="A STATE is emitted only right after a flush: one arriving after the last flush (typically the "
                 "tap's final one) is never emitted, and a run with no records emits the first STATE.",
        ours="When the target returns normally (every record is flushed), the last STATE read is emitted if it "
             "differs from the target's last output.",
        why="The bookmark lagged: the next run extracted again what this one loaded.",
        tests=(f"{_T}test_state_is_emitted_after_records_are_flushed", f"{_T}test_run_without_records_emits_last_state",
               f"{_T}test_state_is_never_ahead_of_data_when_the_target_crashes"),
    ),
    Divergence(
        id="d1",
        changes=(LOAD_ROWS,),
        relies_on=(),
        upstream="Every record becomes a CSV row in Python, each nested value JSON-encoded on its own: most of a "
                 "run's CPU. `\"\"` comes back as NULL.",
        ours="With `data_flattening_max_level` 0 (what omniload uses), a batch is written as JSON lines (one "
             "`orjson.dumps` per record; `json.dumps` for what orjson refuses, such as integers beyond 64 bits; "
             "a NaN or ±Infinity, which is not JSON, loads as NULL) and read by DuckDB's `read_json` with the "
             "table's own column types. `\"\"` stays `\"\"`. With flattening on, the CSV path (a1, a2) is used.",
        why="Speed: 20,000 Asana tasks, 12 s → 4.9 s of CPU (→ 4.0 s with e1, e2). And `\"\"` is not NULL.",
        tests=(f"{_T}test_strings_survive_byte_exact", f"{_T}test_empty_string_is_kept_apart_from_null",
               f"{_T}test_values_orjson_cannot_encode_still_load", f"{_T}test_nan_and_infinity_load_as_null",
               f"{_T}test_loads_under_a_memory_limit"),
    ),
    Divergence(
        id="d2",
        changes=(RECORD_PRIMARY_KEY_STRING,),
        relies_on=(),
        upstream="Each record is flattened (nested values JSON-encoded) once more just to read its key.",
        ours="With flattening off, the key is read from the record (the same string for string and number keys; "
             "any other key goes through 0.8.0's code).",
        why="Speed (with d1).",
        tests=(f"{_T}test_upsert_on_key_properties", f"{_T}test_several_streams_in_several_batches"),
    ),
    Divergence(
        id="e1",
        changes=(GET_LOGGER,),
        relies_on=(),
        upstream="`get_logger` re-reads and re-applies the logging config file on every call, once per column "
                 "per batch through `column_type`.",
        ours="Memoized: the file is read once per logger name.",
        why="Speed: with e2 and c1's RECORD shortcut, 20,000 tasks 6.0 s → 4.1 s wall, 100,000 tasks "
            "30.5 s → 21.9 s (batches in JSON lines, d1).",
        tests=(f"{_T}test_several_streams_in_several_batches",),
    ),
    Divergence(
        id="e2",
        changes=(),
        relies_on=(),
        upstream="Python's default GC thresholds: the collector re-scans every buffered record again and again "
                 "(~9 % of the CPU on 100k Asana tasks).",
        ours="`gc.set_threshold(50000, 20, 100)`; Singer records hold no reference cycles.",
        why="Speed (with e1).",
        tests=(f"{_T}test_many_records_in_one_batch",),
    ),
    Divergence(
        id="f1",
        changes=(DUCKDB_CONNECT,),
        relies_on=(_CALLED_BY_MODULE_NAME,),
        upstream="`duckdb.connect(path)` with DuckDB's defaults: extensions are downloaded and loaded on demand "
                 "(a `path` that is an SQLite file makes DuckDB fetch its sqlite extension and attach that file).",
        ours="Extension auto-install and auto-load are off on the connection. Validation, MotherDuck tokens and "
             "`settings` as in 0.8.0.",
        why="No network but the API's; a file that is not DuckDB's is refused, not attached.",
        tests=(f"{_T}test_an_sqlite_file_is_refused_without_an_extension_download",
               f"{_R}test_network.py::test_a_run_contacts_only_the_api_url"),
    ),
    Divergence(
        id="f2",
        changes=(DUCKDB_CONNECT,),
        relies_on=(_CALLED_BY_MODULE_NAME,),
        upstream="A new file is written in the newest storage format, which older duckdb releases (the 1.x that "
                 "many CLIs and notebooks have) refuse to open.",
        ours="A file the target creates is written in DuckDB v1.2.0's storage format (readable by every duckdb "
             "since 1.2), or what the `storage_compatibility_version` key says (`latest`, `v1.4.0`, …); an "
             "existing file keeps its format.",
        why="Users open the file with the duckdb they have. Not older than v1.2.0: duckdb 2.0 writing the "
            "v1.0/v1.1 formats corrupted a file when a write failed mid-load "
            "(`tests/reliability/test_disk_and_lock.py`).",
        tests=(f"{_T}test_database_created_beforehand_with_duckdb_2_loads",
               f"{_R}test_storage_format.py::test_a_new_file_opens_in_duckdb_1_2",
               f"{_R}test_storage_format.py::test_latest_asks_for_the_newest_format_and_keeps_it",
               f"{_R}test_storage_format.py::test_a_file_made_by_an_old_duckdb_stays_readable_by_it"),
    ),
    Divergence(
        id="g",
        changes=(PERSIST_LINES,),
        relies_on=(
            Reliance(PERSIST_LINES, "ignores ACTIVATE_VERSION messages"),
            _FLUSHES_BEFORE_RETURNING,
            _CALLED_BY_MODULE_NAME,
        ),
        upstream="`ACTIVATE_VERSION` is ignored: a full-table stream only upserts, so a row deleted at the "
                 "source stays forever.",
        ours="The keys of the records between a stream's `ACTIVATE_VERSION` and the same version sent again "
             "after its last record (as our tap and singer-io's taps do) are remembered; once the whole input "
             "is read and flushed, one `DELETE` removes the table's rows whose key was not sent. The table is "
             "never empty or half-replaced meanwhile; a load killed, or an extract without its closing message "
             "(a tap that died half-way), deletes nothing.",
        why="Deletions at the source reach the table (`meltano.yml` turns the tap's messages on).",
        tests=(f"{_T}test_activate_version_removes_the_rows_the_extract_did_not_send",
               f"{_T}test_activate_version_without_records_empties_the_table",
               f"{_T}test_streams_without_activate_version_only_upsert",
               f"{_T}test_a_load_that_fails_before_its_end_removes_nothing",
               f"{_T}test_an_extract_that_stopped_before_its_closing_version_removes_nothing"),
    ),
    Divergence(
        id="h",
        changes=(),
        relies_on=(Reliance(MAIN, "raises on every error, so the exit status is 1"),),
        upstream="A crash prints only a traceback.",
        ours="One `level=CRITICAL message=target-duckdb-omniload failed: <Type>: <msg>` line before it; the exit "
             "status stays 1.",
        why="omniload and people read the first line.",
        tests=(f"{_T}test_state_is_never_ahead_of_data_when_the_target_crashes",
               f"{_T}test_locked_database_exits_non_zero_with_a_clear_error"),
    ),
)


def registry_problems() -> list[str]:
    """Ways in which UPSTREAM, PATCHES and DIVERGENCES disagree ([] if none)."""
    problems = []
    ids = [d.id for d in DIVERGENCES]
    if len(set(ids)) != len(ids):
        problems.append(f"divergence ids repeat: {ids}")
    if len({u.name for u in UPSTREAM}) != len(UPSTREAM):
        problems.append("an upstream object is pinned twice")
    patched = [p.upstream for p in PATCHES]
    for p in PATCHES:
        if p.how not in ("replaced", "wrapped"):
            problems.append(f"{p.upstream.name}: how={p.how!r}, not 'replaced' or 'wrapped'")
    if len(set(patched)) != len(patched):
        problems.append("an upstream object is patched twice")
    changed = {u for d in DIVERGENCES for u in d.changes}
    for u in set(patched) - changed:
        problems.append(f"{u.name} is patched but no divergence says it changes it")
    for u in changed - set(patched):
        problems.append(f"a divergence says it changes {u.name}, which is not patched")
    used = changed | {r.upstream for d in DIVERGENCES for r in d.relies_on}
    for u in used - set(UPSTREAM):
        problems.append(f"{u.name} is used but not pinned in UPSTREAM")
    for u in set(UPSTREAM) - used:
        problems.append(f"{u.name} is pinned but no divergence changes or relies on it")
    for d in DIVERGENCES:
        if not d.tests:
            problems.append(f"divergence {d.id} names no test that guards it")
    return problems


def rows_using(upstream: Upstream) -> list[str]:
    return [d.id for d in DIVERGENCES if upstream in d.changes or upstream in (r.upstream for r in d.relies_on)]


# --- the README's tables ---------------------------------------------------------

_MAIN_TEST_FILE = "tests/target/test_target_duckdb_omniload.py::"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _test_name(node_id: str) -> str:
    return node_id.removeprefix(_MAIN_TEST_FILE).removeprefix("tests/")


def _code_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__.removeprefix('target_duckdb_omniload.')}.{fn.__qualname__}"


def markdown() -> str:
    """The divergence and pin tables of README.md."""
    out = [
        "| # | changes | target-duckdb 0.8.0 | target-duckdb-omniload | why | guarded by |",
        "|---|---|---|---|---|---|",
    ]
    for d in DIVERGENCES:
        changes = ", ".join(f"`{u.name}`" for u in d.changes) or "–"
        why = d.why + (f" Upstream main: {d.upstream_main}." if d.upstream_main else "")
        tests = "<br>".join(f"`{_test_name(t)}`" for t in d.tests)
        out.append(f"| {d.id} | {_cell(changes)} | {_cell(d.upstream)} | {_cell(d.ours)} | {_cell(why)} "
                   f"| {_cell(tests)} |")
    out += [
        "",
        "| `target_duckdb.` object | our code | rows | what the rows rely on it to keep doing "
        "| SHA-256 of its source |",
        "|---|---|---|---|---|",
    ]
    patches = {p.upstream: p for p in PATCHES}
    for u in UPSTREAM:
        patch = patches.get(u)
        code = f"{patch.how} by `{_code_name(patch.replacement)}`" if patch else "unchanged"
        if patch and patch.at:
            code += " (at " + ", ".join(f"`{n}`" for n in patch.at) + ")"
        relied = list(dict.fromkeys(r.what for d in DIVERGENCES for r in d.relies_on if r.upstream == u))
        relied_on = _cell("; ".join(relied)) or "–"
        out.append(f"| `{u.name}` | {_cell(code)} | {' '.join(rows_using(u))} | {relied_on} | `{u.sha256[:16]}…` |")
    return "\n".join(out) + "\n"

