"""Loading one batch into its table: DbSync.load_rows and the batch's keys.

0.8.0 writes every batch as a header-less CSV and loads it with a COPY that
lets DuckDB's sniffer guess the header and dialect (the data-loss bug, rows
a1-a2 of the registry in divergences.py).  Our load_rows is 0.8.0's body
with those fixes (a1-a4, b1) and, when nothing is flattened (what omniload
configures), the batch written as JSON lines instead of CSV (d1).
"""

from __future__ import annotations

import csv
import json
import os

import orjson
from target_duckdb import db_sync

from target_duckdb_omniload.column_types import to_utc_naive

_upstream_record_primary_key_string = db_sync.DbSync.record_primary_key_string



MAX_RECORD_BYTES = 16 * 1024 * 1024

def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def copy_statement(temp_table: str, csv_path: str, delimiter: str, quotechar: str) -> str:
    """The COPY of a CSV batch, its dialect spelled out as csv.writer wrote it."""
    return (
        f"COPY {temp_table} FROM {_sql_string(csv_path)} "
        f"(FORMAT csv, HEADER false, DELIMITER {_sql_string(delimiter)}, "
        f"QUOTE {_sql_string(quotechar)}, ESCAPE {_sql_string(quotechar)}, "
        "NEW_LINE '\\r\\n')"
    )


def load_rows(self, records, count, temp_dir):
    """Replaces DbSync.load_rows: a batch into a TEMP table, then upserted."""
    stream = self.stream_schema_message["stream"]
    self.logger.info("Loading %d rows into '%s'", count, self.table_name(stream, False))
    cur = self.conn
    temp_table = self.table_name(stream, is_temporary=True)
    fill, suffix = (_fill_from_csv, ".csv") if self.data_flattening_max_level else (_fill_from_jsonl, ".jsonl")
    temp_file = os.path.join(temp_dir, temp_table + suffix)
    # TEMP lives in this connection only: a load that is killed or fails
    # (disk full) half-way never leaves a main.tmp_<uuid> table in the file.
    cur.execute(self.create_table_query(table_name=temp_table, is_temporary=True)
                .replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
    try:
        fill(self, cur, temp_table, records, temp_file)
        if len(self.stream_schema_message["key_properties"]) > 0:
            update = self.update_from_temp_table(temp_table)
            if update:  # None when every column is a key: nothing to update
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
    # UTF-8 and newline="": the COPY reads UTF-8 whatever the locale, and a
    # "\r\n" inside a value must reach it unchanged.
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


def _json_line(record) -> bytes:
    # NaN and ±Infinity (not JSON, though Python's json reads them) become
    # null, i.e. NULL in the table.
    try:
        return orjson.dumps(record)
    except TypeError:
        # What orjson refuses and json takes: integers beyond 64 bits (a JSON
        # number may be any size) and non-string keys. (A lone surrogate fails
        # either way: DuckDB rejects its escape.)
        return json.dumps(record, ensure_ascii=True).encode()


def _fill_from_jsonl(self, cur, temp_table, records, temp_file):
    # The record is the row: DuckDB's JSON reader does what 0.8.0 did per
    # value in Python, typed by the column types the table was created with.
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
        # DuckDB reserves twice the largest record it accepts up front, out of
        # the memory_limit: 16 MiB (an Asana task is a few KB, its notes at
        # most a few hundred) leaves the loader's small limit for the table.
        f"maximum_object_size = {MAX_RECORD_BYTES}, columns = {{{columns}}})"
    )


def record_primary_key_string(self, record):
    """Wraps DbSync.record_primary_key_string: with flattening off, the key
    is read from the record itself, without flattening it first."""
    keys = self.stream_schema_message["key_properties"]
    if keys and not self.data_flattening_max_level:
        values = [record.get(key) for key in keys]
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            return ",".join(str(v) for v in values)
    return _upstream_record_primary_key_string(self, record)
