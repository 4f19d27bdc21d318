"""The filter between stdin and persist_lines (rows c1, c2 and g of the
registry, divergences.py).

persist_lines flushes the stream's buffer and re-syncs its table on every
SCHEMA message, and singer-sdk re-sends a child stream's SCHEMA for every
parent record: one COPY/UPDATE/INSERT per parent.  A SCHEMA equal to the last
one seen for the same stream changes nothing in persist_lines (same DbSync,
same table, same validator), so it is dropped here; a changed SCHEMA goes
through.  On the way, the filter remembers what the end of the run needs:
the last STATE value (persist.py emits it) and, for the streams that got an
ACTIVATE_VERSION, the keys their extract sent (activate_version.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import target_duckdb

from target_duckdb_omniload.activate_version import activate, remember_key


def filter_lines(lines: Iterable[str], seen: dict) -> Iterator[str]:
    """Every line but repeated identical SCHEMAs; fills seen["state"] (the
    last STATE value), seen["schemas"] (each stream's last SCHEMA) and
    seen["versioned"] (stream -> activate_version.Extract)."""
    last_schema = seen.setdefault("schemas", {})
    versioned = seen.setdefault("versioned", {})
    for line in lines:
        # Nearly every line is a RECORD, and singer-sdk writes "type" first:
        # skip searching those (6 KB each for Asana tasks) for the two words.
        if line.startswith('{"type":"RECORD"'):
            if versioned:
                remember_key(line, versioned, last_schema)
            yield line
            continue
        if '"ACTIVATE_VERSION"' in line:
            activate(line, versioned)
        elif versioned and '"RECORD"' in line:
            remember_key(line, versioned, last_schema)
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
