"""RECORD messages for a stream without singer-sdk's per-record schema walk.

For every record, singer-sdk 0.54 (`Stream._generate_record_messages`)
copies it while looking up each property in the catalog's selection mask,
recursing into every nested object; walks it against the schema to
conform types and drop undeclared properties; then runs it through the
stream maps. On Asana's big task records (every documented field, custom
fields and memberships nested) that walk is costly, and it changes nothing
in the common case: the catalog selects whole top-level properties,
Asana's JSON already has the schema's types (the schema is generated from
Asana's spec) and no stream map is configured.

`LeanRecordMessages` does only what that common case needs, with the
same result: deselected top-level properties and properties the schema
doesn't declare are dropped (the latter with ONE warning per stream and
property set, not one per record). One difference, for input Asana never
sends: a top-level boolean property holding a non-boolean (1, "false") is
passed on as it came instead of being coerced with `value != 0`. Whenever
the run asks for more — a stream map, flattening, a nested property
deselected in the catalog — the stream uses singer-sdk's own path.
tests/tap/test_record_messages.py checks both paths give identical
messages and pins the SDK source this mirrors, so an SDK upgrade that
changes it fails loudly.
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.helpers._util import utc_now
from singer_sdk.mapper import SameRecordTransform

if t.TYPE_CHECKING:
    from singer_sdk import Stream

# A breadcrumb of a top-level property: ("properties", name).
_TOP_LEVEL = 2


def lean_path_applies(stream: Stream) -> bool:
    """True when singer-sdk's per-record work would change nothing but
    top-level selection and undeclared properties."""
    maps = stream.stream_maps
    if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
        return False
    if maps[0].flattening_enabled or maps[0].stream_alias != stream.name:
        return False
    if stream.effective_schema.get("additionalProperties"):
        return False
    return not any(
        len(breadcrumb) > _TOP_LEVEL and not selected
        for breadcrumb, selected in stream.mask.items()
    )


class LeanRecordMessages:
    def __init__(self, stream: Stream, logger: logging.Logger) -> None:
        self._stream = stream
        self._stream_name = stream.name
        # What the SDK conforms records to: the input catalog's schema when
        # there is one (the SCHEMA message says the same), else the stream's.
        declared = set(stream.effective_schema["properties"])
        mask = stream.mask
        self._keep = frozenset(p for p in declared if mask[("properties", p)])
        self._deselected = frozenset(declared - self._keep)
        self._logger = logger
        self._warned: set[frozenset[str]] = set()

    def messages(self, record: dict) -> t.Generator[singer.RecordMessage, None, None]:
        extra = record.keys() - self._keep
        if extra:
            self._drop(record, extra)
        yield singer.RecordMessage(
            stream=self._stream_name,
            record=record,
            version=self._stream._stream_version,
            time_extracted=utc_now(),
        )

    def _drop(self, record: dict, extra: set[str]) -> None:
        undeclared = frozenset(extra - self._deselected)
        for name in extra:
            del record[name]
        if undeclared and undeclared not in self._warned:
            self._warned.add(undeclared)
            self._logger.warning(
                "Properties %s were present in the '%s' stream but not found in "
                "catalog schema. Ignoring.",
                tuple(sorted(undeclared)),
                self._stream_name,
            )
