"""The target class: upstream's, with our sink (and so our connector)."""

from __future__ import annotations

import re

import orjson
from singer_sdk.io_base import SingerReader
from target_postgres.target import TargetPostgres

from target_postgres_omniload.sink import OmniloadSink

# orjson reads an integer beyond 64 bits as a float: a line with a run of 19
# or more digits (in a number, or maybe in a string) takes upstream's parser.
_LONG_DIGITS = re.compile(r"\d{19}")


class OrjsonReader(SingerReader):
    def deserialize_json(self, line: str) -> dict:   # row p6
        """Each input line: orjson, a third of the loader's CPU with the stdlib
        parser.  Numbers with a fraction are floats (JSON's own meaning; the
        stdlib path makes Decimals of them); a line orjson refuses goes through
        upstream's parser, which reports it as upstream does."""
        if _LONG_DIGITS.search(line):
            return super().deserialize_json(line)
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            return super().deserialize_json(line)


class TargetPostgresOmniload(TargetPostgres):
    # Same name as upstream: settings keep reading TARGET_POSTGRES_* variables.
    name = "target-postgres"
    default_sink_class = OmniloadSink
    message_reader_class = OrjsonReader
