"""ACTIVATE_VERSION: removing the rows a full-table extract did not send (row g
of the registry, divergences.py).

A tap sends ACTIVATE_VERSION before a stream's complete extract and, as
singer-io's taps and ours do, the same version again after its last record.
The line filter (line_filter.py) remembers the keys between the two; once the
whole input has been read and flushed, remove_unversioned_rows deletes in one
statement the rows of the stream's table whose key the extract did not send.
The table is never empty or half-replaced while the load runs; a load killed,
or an extract that stopped before its closing ACTIVATE_VERSION (a tap that
died half-way), deletes nothing.  Streams without the message (incremental
ones) are only upserted, as in 0.8.0.
"""

from __future__ import annotations

import json
import re

import target_duckdb
from target_duckdb import db_sync

# singer-sdk writes RECORD lines compactly, "type" then "stream" first.
_RECORD_STREAM = re.compile(r'^\{"type":"RECORD","stream":"((?:[^"\\]|\\.)*)"')


class Extract:
    """The keys one full-table extract of a stream sent."""

    def __init__(self, version):
        self.version = version
        self.keys: set[str] = set()
        self.complete = False


def activate(line: str, versioned: dict) -> None:
    """The first ACTIVATE_VERSION of a stream opens its key set; the same
    version again closes it (the extract is complete)."""
    try:
        message = json.loads(line)
    except ValueError:
        return  # the target reports the bad line itself
    if not isinstance(message, dict) or message.get("type") != "ACTIVATE_VERSION":
        return
    stream, version = message.get("stream"), message.get("version")
    if stream in versioned and versioned[stream].version == version:
        versioned[stream].complete = True
    else:
        versioned[stream] = Extract(version)


def remember_key(line: str, versioned: dict, schemas: dict) -> None:
    found = _RECORD_STREAM.match(line)
    if found is not None and json.loads(f'"{found.group(1)}"') not in versioned:
        return  # not a versioned stream: no need to parse the whole line
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
    """Run only after persist_lines returned, i.e. every record is in its table."""
    for stream, extract in seen.get("versioned", {}).items():
        if not extract.complete:
            target_duckdb.LOGGER.warning("ACTIVATE_VERSION %s: the extract did not complete; "
                                         "no rows removed", stream)
            continue
        schema_message = seen.get("schemas", {}).get(stream)
        key_properties = (schema_message or {}).get("key_properties") or []
        if len(key_properties) != 1:
            continue
        table = db_sync.DbSync(connection, config, schema_message).table_name(stream)
        key = db_sync.safe_column_name(key_properties[0])
        (removed,) = connection.execute(
            f"DELETE FROM {table} WHERE CAST({key} AS VARCHAR) NOT IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(extract.keys)]).fetchall()[0]
        target_duckdb.LOGGER.info("ACTIVATE_VERSION %s: removed %d rows the source no longer has",
                                  stream, removed)
