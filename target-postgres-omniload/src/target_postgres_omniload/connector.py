"""Column types and sessions: what a Postgres user expects to query.

Upstream maps a JSON array to a Postgres array (`jsonb[]` for Asana's arrays
of objects: `memberships[1]->'project'` rather than `memberships->0->'project'`,
no `jsonb_array_elements`, no `@>` containment) and a `date-time` string to
`timestamp without time zone`, which drops the instant's offset and depends
on the session's TimeZone.  Here every array is ONE `jsonb` value, every
date-time a `timestamptz`, and the loader's sessions run in UTC, so a value
without an offset is read as UTC whatever the server's default.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson
import sqlalchemy
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TIMESTAMP
from target_postgres.connector import PostgresConnector


def _timestamptz(_schema: dict | None = None) -> TIMESTAMP:
    return TIMESTAMP(timezone=True)


def _set_utc(dbapi_connection: Any, _record: Any) -> None:
    # psycopg 3: a statement outside a transaction needs autocommit, and the
    # pool hands the connection out in its original mode.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.autocommit = autocommit


def _exact(value: Any) -> Any:
    """orjson's fallback: a Decimal goes in as the number it is, digit for digit."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value) if value.is_finite() else "null")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class OmniloadConnector(PostgresConnector):
    def serialize_json(self, obj: object) -> str:   # row p6
        # A jsonb value per nested column per record: most of the loader's CPU with simplejson.
        try:
            return orjson.dumps(obj, default=_exact).decode()
        except orjson.JSONEncodeError:        # what orjson refuses (an integer beyond 64 bits)
            return super().serialize_json(obj)

    def _handle_array_type(self, jsonschema: dict[str, Any]) -> JSONB:   # row p1
        return JSONB()

    @cached_property
    def jsonschema_to_sql(self):   # row p2
        to_sql = PostgresConnector.jsonschema_to_sql.func(self)
        to_sql.register_format_handler("date-time", _timestamptz)
        return to_sql

    def create_engine(self) -> sqlalchemy.Engine:   # row p2
        engine = super().create_engine()
        sqlalchemy.event.listen(engine, "connect", _set_utc)
        return engine
