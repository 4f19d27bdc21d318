"""target-duckdb 0.8.0 (jwills) with the fixes omniload needs.

Entry point: the ``target-duckdb-omniload`` console script (``main`` below).
It patches a handful of target-duckdb internals and then runs the target's
own ``main()`` unchanged, so config keys, messages and output are exactly
target-duckdb's.  See target-duckdb-omniload/README.md for the why.

Every patched object is pinned by the SHA-256 of its source code.  If the
installed target-duckdb is not the exact 0.8.0 code these patches were
written against, ``apply_patches()`` raises before a single message is read:
a silent regression (e.g. our COPY fix no longer being the code that runs)
is impossible.  When a target-duckdb release with jwills/target-duckdb#58
(``HEADER false``) is on PyPI, drop this package instead of re-pinning it.
"""

from __future__ import annotations

import copy
import csv
import functools
import gc
import hashlib
import inspect
import json
import os
import re
import sys
from datetime import datetime, timezone
from importlib import metadata

import duckdb
import orjson
import target_duckdb
from target_duckdb import db_sync
from target_duckdb import logger as target_logger

__all__ = ["IncompatibleTargetError", "apply_patches", "check_target", "main"]

EXPECTED_TARGET_VERSION = "0.8.0"

# SHA-256 of inspect.getsource() of every target-duckdb 0.8.0 object we
# replace or whose body we rely on.  Any difference means the patches below
# may be wrong or no longer reached: refuse to run.
EXPECTED_SOURCE_SHA256 = {
    # replaced: the COPY that loses rows (the data-loss bug)
    "db_sync.DbSync.load_rows": "5b49343dfb02a4e5f6685972f42f1758a23387f132dc868981bca1dddc7883ae",
    # replaced when nothing is flattened: it flattened (JSON-encoded) the
    # whole record once per record just to read the key
    "db_sync.DbSync.record_primary_key_string": "2d7735e4834032508aa30f10d30db1c11ddbb0a1df0de65580a2aad35910e419",
    # wrapped: format: date -> DATE
    "db_sync.column_type": "fb20f178e23264e75dc67f1829565340be39c98646ad3406171633062d7c2481",
    # wrapped: properties with an empty schema {} are silently dropped
    "db_sync.flatten_schema": "d887fac556ba9680cb5e0ebd098a423f7c9c462f7359f2d0ab814106d4021ef9",
    # wrapped: _sdc_batched_at is local wall-clock time
    "add_metadata_values_to_record": "1b4100c1513a99f57f7e5485afab533d3cc652cb51b38a5a7eb4e86decdd0b0d",
    # wrapped (its input and its end): repeated identical SCHEMA messages
    # cause a flush; the last STATE is often not emitted.  Also relied on: it
    # looks up add_metadata_values_to_record and emit_state by module name,
    # and it only returns normally after flushing every buffered record.
    "persist_lines": "df4a2f776fc2bb170f114ddd3d6d51fff97b91d8747f90536b85ac841930b2ca",
    # wrapped: remembers the last STATE the target emitted
    "emit_state": "503f0e8980dfb8f21fe785688b9f84e431d311f13998c544731382284f2f1b7e",
    # memoized: it re-reads the logging config file on every call, and
    # column_type calls it once per column per batch.
    "logger.get_logger": "62b8e3341253325bdd27205df206b9cb7924aec505164f4cfba6131414b4b25b",
    # replaced: it connects with DuckDB's defaults (extension downloads on,
    # new files in the newest storage format)
    "duckdb_connect": "253909274f9b409d7a27613f1b9b8fd384c1e17506e265aa86c846638bedb105",
    # run unchanged; relied on: it looks up persist_lines and duckdb_connect
    # by module name.
    "main": "340478f619216ed0dd86ff181099d58cbef227d76f87e03fc027ce3f5d83db3d",
}


class IncompatibleTargetError(RuntimeError):
    """The installed target-duckdb is not the code our patches were written for."""


_MODULES = {"db_sync": db_sync, "logger": target_logger}


def _resolve(name: str):
    """'db_sync.DbSync.load_rows' -> that object; a bare name is in target_duckdb."""
    module, _, path = name.partition(".")
    obj = _MODULES.get(module)
    if obj is None:
        obj, path = target_duckdb, name
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _source_sha256(obj) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError):  # no source available: cannot vouch for it
        return None


def check_target() -> None:
    """Raise IncompatibleTargetError unless target-duckdb is exactly the 0.8.0 code."""
    problems = []
    version = metadata.version("target-duckdb")
    if version != EXPECTED_TARGET_VERSION:
        problems.append(
            f"target-duckdb {version} is installed, the patches are for {EXPECTED_TARGET_VERSION}"
        )
    for name, expected in EXPECTED_SOURCE_SHA256.items():
        actual = _source_sha256(_resolve(name))
        if actual != expected:
            problems.append(f"source of target_duckdb.{name} changed ({actual} != {expected})")
    if problems:
        raise IncompatibleTargetError(
            "target-duckdb-omniload refuses to run: the target-duckdb internals it patches "
            "are not as expected. If a release containing jwills/target-duckdb#58 "
            "(HEADER false) is installed, drop target-duckdb-omniload and use the plain "
            "target; otherwise re-check every patch against the new code. Details: "
            + "; ".join(problems)
        )


# --- (a) the data-loss bug ----------------------------------------------------
#
# target-duckdb 0.8.0 writes each batch to a header-less CSV file and loads it
# with `COPY tmp FROM 'file' WITH (new_line '\r\n')`.  From duckdb 1.1 on the
# CSV sniffer guesses whether line 1 is a header and often decides it is:
# the first row of a batch is silently discarded, a 1-row batch always.  The
# upstream fix (jwills/target-duckdb PR #58, merged, unreleased) adds
# `HEADER false`.  We replace load_rows with the 0.8.0 body plus:
#   * HEADER false, and the dialect spelled out (DELIMITER/QUOTE/ESCAPE as
#     the csv.writer wrote it: 0.8.0 left them to the sniffer even when the
#     `delimiter`/`quotechar` config keys changed the writer);
#   * the CSV written as UTF-8 with newline="" (0.8.0 used the locale's
#     encoding and text-mode newline translation);
#   * date-time values converted to UTC (0.8.0 let the TIMESTAMP cast drop
#     the offset: 10:00+02:00 was stored as 10:00, not 08:00);
#   * no `execute(None)` when every column is a key column (0.8.0 crashed);
#   * the temp CSV removed even when the load fails;
#   * the temp table created TEMP, so a killed load leaves no stray table.


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def copy_statement(temp_table: str, csv_path: str, delimiter: str, quotechar: str) -> str:
    return (
        f"COPY {temp_table} FROM {_sql_string(csv_path)} "
        f"(FORMAT csv, HEADER false, DELIMITER {_sql_string(delimiter)}, "
        f"QUOTE {_sql_string(quotechar)}, ESCAPE {_sql_string(quotechar)}, "
        "NEW_LINE '\\r\\n')"
    )


def to_utc_naive(value):
    """'2024-01-02T10:00:00+02:00' -> '2024-01-02T08:00:00' (TIMESTAMP columns hold UTC).

    Values without an offset are taken to be UTC already; anything Python
    cannot parse is passed on unchanged for DuckDB to cast (as 0.8.0 did).
    """
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.astimezone(timezone.utc).replace(tzinfo=None).isoformat()


def _load_rows(self, records, count, temp_dir):
    """Load a batch: as JSON lines parsed by DuckDB itself when nothing is
    flattened (our case), else through 0.8.0's CSV path with the fixes."""
    stream = self.stream_schema_message["stream"]
    self.logger.info("Loading %d rows into '%s'", count, self.table_name(stream, False))
    cur = self.conn
    temp_table = self.table_name(stream, is_temporary=True)
    fill, suffix = (_fill_from_csv, ".csv") if self.data_flattening_max_level else (_fill_from_jsonl, ".jsonl")
    temp_file = os.path.join(temp_dir, temp_table + suffix)
    # A TEMP table (0.8.0 creates a real one): it lives only in this
    # connection, so a load that is killed or fails (disk full) mid-way
    # never leaves a stray main.tmp_<uuid> table in the user's database.
    cur.execute(self.create_table_query(table_name=temp_table, is_temporary=True)
                .replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
    try:
        fill(self, cur, temp_table, records, temp_file)
        if len(self.stream_schema_message["key_properties"]) > 0:
            update = self.update_from_temp_table(temp_table)
            if update:
                cur.execute(update)
        cur.execute(self.insert_from_temp_table(temp_table))
        cur.execute(f"DROP TABLE {temp_table}")
    finally:
        if os.path.exists(temp_file):
            os.unlink(temp_file)


def _fill_from_csv(self, cur, temp_table, records, temp_file):
    timestamp_columns = [
        i
        for i, schema in enumerate(self.flatten_schema.values())
        if db_sync.column_type(schema) == "timestamp"
    ]
    with open(temp_file, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(
            f,
            delimiter=self.delimiter,
            quotechar=self.quotechar,
            quoting=csv.QUOTE_MINIMAL,
            lineterminator="\r\n",
        )
        for record in records:
            row = self.record_to_flattened(record)
            for i in timestamp_columns:
                row[i] = to_utc_naive(row[i])
            writer.writerow(row)
    cur.execute(copy_statement(temp_table, temp_file, self.delimiter, self.quotechar))


# --- (d) speed: the batch as JSON lines, parsed by DuckDB ---------------------
#
# 0.8.0 turns every record into a CSV row in Python, JSON-encoding each nested
# value separately and flattening each record twice (once more just to read
# its key): most of a run's CPU. With flattening off, a row is simply the
# record: one orjson.dumps per record (a tenth of json.dumps' cost on a 6 KB
# Asana task), and DuckDB's own JSON reader does the rest, typed by the same
# column types the table was created with. It also keeps "" apart from NULL,
# which the CSV path cannot (0.8.0 stores "" as NULL).


def _json_line(record) -> bytes:
    # NaN and ±Infinity (not JSON, though Python's json reads them) become
    # null, i.e. NULL in the table; json.dumps used to let DuckDB store NaN.
    try:
        return orjson.dumps(record)
    except TypeError:
        # What orjson refuses and json takes: integers beyond 64 bits (a JSON
        # number may be any size) and non-string keys. (A lone surrogate fails
        # either way: DuckDB rejects its escape, as it did before.)
        return json.dumps(record, ensure_ascii=True).encode()


def _fill_from_jsonl(self, cur, temp_table, records, temp_file):
    types = {name: db_sync.column_type(schema) for name, schema in self.flatten_schema.items()}
    timestamps = [name for name, col_type in types.items() if col_type == "timestamp"]
    with open(temp_file, "wb") as f:
        for record in records:
            if timestamps:
                record = dict(record)
                for name in timestamps:
                    if name in record:
                        record[name] = to_utc_naive(record[name])
            f.write(_json_line(record))
            f.write(b"\n")
    columns = ", ".join(f"{_sql_string(name)}: {_sql_string(t)}" for name, t in types.items())
    targets = ", ".join(db_sync.safe_column_name(name) for name in types)
    sources = ", ".join('"' + name.replace('"', '""') + '"' for name in types)
    cur.execute(
        f"INSERT INTO {temp_table} ({targets}) SELECT {sources} FROM read_json("
        f"{_sql_string(temp_file)}, format = 'newline_delimited', auto_detect = false, "
        # 64 MiB per record: DuckDB reserves twice this up front, so 1 GiB
        # broke any memory_limit under 2 GiB.
        f"maximum_object_size = 67108864, columns = {{{columns}}})"
    )


_orig_record_primary_key_string = db_sync.DbSync.record_primary_key_string


def _record_primary_key_string(self, record):
    """The key without flattening the record first (same string as 0.8.0's)."""
    keys = self.stream_schema_message["key_properties"]
    if keys and not self.data_flattening_max_level:
        values = [record.get(key) for key in keys]
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            return ",".join(str(v) for v in values)
    return _orig_record_primary_key_string(self, record)


# --- (b) type mapping ----------------------------------------------------------

_orig_column_type = db_sync.column_type
_orig_flatten_schema = db_sync.flatten_schema
_orig_add_metadata_values_to_record = target_duckdb.add_metadata_values_to_record
_orig_persist_lines = target_duckdb.persist_lines
_orig_emit_state = target_duckdb.emit_state

# Stored as JSON; target-duckdb JSON-encodes every value of exactly this type set.
_ANY_JSON_SCHEMA = {"type": ["null", "object", "array"]}


def _column_type(schema_property):
    """0.8.0 maps `format: date` strings to VARCHAR; use DATE (as upstream main does)."""
    col_type = _orig_column_type(schema_property)
    types = schema_property.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if col_type == "varchar" and schema_property.get("format") == "date" and types - {"null"} == {"string"}:
        return "date"
    return col_type


def _flatten_schema(d, *args, **kwargs):
    """0.8.0 silently drops properties whose schema is {} (singer-sdk AnyType); keep them as JSON."""
    properties = d.get("properties") if isinstance(d, dict) else None
    if properties and any(v == {} for v in properties.values()):
        d = dict(d)
        d["properties"] = {
            k: (dict(_ANY_JSON_SCHEMA) if v == {} else v) for k, v in properties.items()
        }
    return _orig_flatten_schema(d, *args, **kwargs)


def _add_metadata_values_to_record(record_message):
    """0.8.0 stamps _sdc_batched_at with datetime.now() (local time); use UTC."""
    record = _orig_add_metadata_values_to_record(record_message)
    record["_sdc_batched_at"] = datetime.now(timezone.utc).isoformat()
    return record


# --- (c) repeated identical SCHEMA messages, and the final STATE ------------------
#
# persist_lines flushes the stream's buffer and re-syncs the table on every
# SCHEMA message.  singer-sdk re-sends a child stream's SCHEMA for every
# parent record, so that means one COPY/UPDATE/INSERT per parent.  A SCHEMA
# equal to the last one seen for the same stream changes nothing in
# persist_lines (same DbSync, same table, same validator), so we drop it
# before the target sees it.  A changed SCHEMA still goes through.
#
# persist_lines also only emits a STATE right after a flush.  A STATE that
# arrives after the last flush (typically the tap's final STATE) is never
# emitted, and a run without records emits the first STATE, not the last:
# the bookmark lags and the next run re-extracts.  When persist_lines
# returns normally every record has been flushed, so the last STATE read is
# safe to emit; we emit it if the target's last emitted STATE differs.


def filter_lines(lines, seen):
    """Drop repeated identical SCHEMA messages; remember the last STATE value in
    seen, the last SCHEMA of each stream, and (see (g)) the keys of the records
    of every stream that got an ACTIVATE_VERSION."""
    last_schema = seen.setdefault("schemas", {})
    versioned = seen.setdefault("versioned", {})
    for line in lines:
        # Nearly every line is a RECORD, and singer-sdk writes "type" first:
        # skip searching those (6 KB each for Asana tasks) for the two words.
        if line.startswith('{"type":"RECORD"'):
            if versioned:
                _remember_key(line, versioned, last_schema)
            yield line
            continue
        if '"ACTIVATE_VERSION"' in line:
            _activate(line, versioned)
        elif versioned and '"RECORD"' in line:
            _remember_key(line, versioned, last_schema)
        if '"SCHEMA"' in line or '"STATE"' in line:
            try:
                message = json.loads(line)
            except ValueError:
                message = None  # let the target report the bad line itself
            if isinstance(message, dict) and message.get("type") == "SCHEMA" and "stream" in message:
                stream = message["stream"]
                if last_schema.get(stream) == message:
                    target_duckdb.LOGGER.debug("Skipping repeated identical SCHEMA for %s", stream)
                    continue
                last_schema[stream] = message
            elif isinstance(message, dict) and message.get("type") == "STATE" and "value" in message:
                seen["state"] = message["value"]
        yield line


_last_emitted: dict[str, object] = {}


def _emit_state(state):
    if state is not None:
        _last_emitted["state"] = copy.deepcopy(state)
    _orig_emit_state(state)


def _persist_lines(connection, config, lines):
    seen: dict = {}
    _last_emitted.clear()
    _orig_persist_lines(connection, config, filter_lines(lines, seen))
    remove_unversioned_rows(connection, config, seen)
    final_state = seen.get("state")
    if final_state is not None and _last_emitted.get("state") != final_state:
        target_duckdb.LOGGER.info("Emitting the last STATE received (all records are flushed)")
        target_duckdb.emit_state(copy.deepcopy(final_state))


# --- (e) speed: the loop's fixed overheads ----------------------------------------
#
# get_logger runs logging.config.fileConfig on every call (re-reading and
# re-applying the logging config), and column_type calls it for every column
# of every batch. Configuring once gives the same loggers.


_orig_get_logger = target_logger.get_logger


@functools.cache
def _get_logger(name="singer"):
    return _orig_get_logger(name)

# A batch holds thousands of parsed records (nested dicts and lists), so the
# cyclic garbage collector's default thresholds make it re-scan them again and
# again (~9 % of the loader's CPU on 100k Asana tasks). Singer records hold no
# reference cycles; collecting less often frees the same memory.
GC_THRESHOLD = (50_000, 20, 100)


# --- (f) connecting -------------------------------------------------------------
#
# 0.8.0 calls duckdb.connect(path) with DuckDB's defaults.  Two of them reach
# outside the destination: extensions are installed and loaded on demand (a
# `path` that is an SQLite file makes DuckDB download its sqlite extension
# and attach that file), and a new file is written in the newest storage
# format, which every duckdb older than the loader's refuses to open.  We
# connect with both downloads off and create a new file in the storage
# format of DuckDB v1.2.0, readable by every duckdb since (override with the
# `storage_compatibility_version` config key, e.g. "latest").  Not older:
# duckdb 2.0 writing the v1.0/v1.1 formats corrupted a file when a write
# failed (disk full) mid-load.  An existing file keeps its format.
# Validation, MotherDuck tokens and `settings` are as in 0.8.0.

NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False,
                          "autoload_known_extensions": False}
DEFAULT_STORAGE_VERSION = "v1.2.0"


def connect_options(config, path_exists: bool) -> dict:
    options = dict(NO_EXTENSION_DOWNLOADS)
    if not path_exists and not config.get("token"):
        options["storage_compatibility_version"] = config.get(
            "storage_compatibility_version", DEFAULT_STORAGE_VERSION)
    return options


def _duckdb_connect(config):
    config_errors = target_duckdb.validate_config(config)
    if config_errors:
        target_duckdb.LOGGER.error("Invalid configuration:\n   * %s", "\n   * ".join(config_errors))
        sys.exit(1)
    path = config.get("path", config.get("filepath"))
    options = connect_options(config, os.path.exists(path))
    if config.get("token"):
        path = f"{path}?token={config['token']}"
    db = duckdb.connect(path, config=options)
    for setting, value in config.get("settings", {}).items():
        db.execute(f"SET {setting} = '{value}'")
    return db



# --- (g) ACTIVATE_VERSION -----------------------------------------------------------
#
# 0.8.0 ignores ACTIVATE_VERSION, so a full-table stream only ever upserts:
# a row deleted at the source stays in the table forever.  A tap sends
# ACTIVATE_VERSION before a stream's complete extract and, as singer-io's
# taps do, the same version again after its last record.  Once the whole
# input has been read and flushed (persist_lines returned normally), for each
# stream whose version was sent twice, we delete in one statement the rows of
# its table whose key the extract did not send.  The table is never empty or
# half-replaced while the load runs; a load killed, or an extract that stopped
# before its closing ACTIVATE_VERSION (a tap that died half-way), deletes
# nothing.  Streams without the message (incremental ones) are untouched.

_RECORD_STREAM = re.compile(r'^\{"type":"RECORD","stream":"((?:[^"\\]|\\.)*)"')


def _activate(line, versioned):
    """The first ACTIVATE_VERSION of a stream opens its key set; the same
    version again closes it (the extract is complete)."""
    try:
        message = json.loads(line)
    except ValueError:
        return
    if not isinstance(message, dict) or message.get("type") != "ACTIVATE_VERSION":
        return
    stream, version = message.get("stream"), message.get("version")
    if stream in versioned and versioned[stream].version == version:
        versioned[stream].complete = True
    else:
        versioned[stream] = _Extract(version)


class _Extract:
    """The keys one full-table extract of a stream sent."""

    def __init__(self, version):
        self.version = version
        self.keys: set[str] = set()
        self.complete = False


def _remember_key(line, versioned, schemas):
    found = _RECORD_STREAM.match(line)   # singer-sdk's compact RECORD lines
    if found is not None and json.loads(f'"{found.group(1)}"') not in versioned:
        return
    try:
        message = json.loads(line)
    except ValueError:
        return  # the target reports the bad line itself
    if not isinstance(message, dict) or message.get("type") != "RECORD":
        return
    stream = message.get("stream")
    keys = (schemas.get(stream) or {}).get("key_properties") or []
    if stream in versioned and len(keys) == 1:
        versioned[stream].keys.add(str((message.get("record") or {}).get(keys[0])))


def remove_unversioned_rows(connection, config, seen) -> None:
    for stream, extract in seen.get("versioned", {}).items():
        if not extract.complete:
            target_duckdb.LOGGER.warning("ACTIVATE_VERSION %s: the extract did not complete; "
                                         "no rows removed", stream)
            continue
        keys = extract.keys
        schema_message = seen.get("schemas", {}).get(stream)
        key_properties = (schema_message or {}).get("key_properties") or []
        if len(key_properties) != 1:
            continue
        table = db_sync.DbSync(connection, config, schema_message).table_name(stream)
        key = db_sync.safe_column_name(key_properties[0])
        (removed,) = connection.execute(
            f"DELETE FROM {table} WHERE CAST({key} AS VARCHAR) NOT IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(keys)]).fetchall()[0]
        target_duckdb.LOGGER.info("ACTIVATE_VERSION %s: removed %d rows the source no longer has",
                                  stream, removed)


_applied = False


def apply_patches() -> None:
    global _applied
    if _applied:
        return
    check_target()
    db_sync.DbSync.load_rows = _load_rows
    db_sync.DbSync.record_primary_key_string = _record_primary_key_string
    db_sync.column_type = _column_type
    db_sync.get_logger = _get_logger
    target_duckdb.get_logger = _get_logger
    gc.set_threshold(*GC_THRESHOLD)
    db_sync.flatten_schema = _flatten_schema
    target_duckdb.add_metadata_values_to_record = _add_metadata_values_to_record
    target_duckdb.persist_lines = _persist_lines
    target_duckdb.emit_state = _emit_state
    target_duckdb.duckdb_connect = _duckdb_connect
    _applied = True


def main() -> None:
    apply_patches()
    try:
        target_duckdb.main()
    except Exception as exc:
        # One greppable line before the traceback; the exit status stays 1.
        target_duckdb.LOGGER.critical(
            "target-duckdb-omniload failed: %s: %s", type(exc).__name__, exc
        )
        raise
