"""Column types and timestamps (rows b1-b4 of the registry, divergences.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import target_duckdb
from target_duckdb import db_sync

# Captured at import, before apply_patches() rebinds the names.
_upstream_column_type = db_sync.column_type
_upstream_flatten_schema = db_sync.flatten_schema
_upstream_add_metadata_values_to_record = target_duckdb.add_metadata_values_to_record

# target-duckdb stores exactly this type set as a JSON column and JSON-encodes
# every value of it, whatever its Python type.
_ANY_JSON_SCHEMA = {"type": ["null", "object", "array"]}


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


def column_type(schema_property):
    """`format: date` strings become DATE; everything else as 0.8.0 maps it."""
    col_type = _upstream_column_type(schema_property)
    types = schema_property.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if col_type == "varchar" and schema_property.get("format") == "date" and types - {"null"} == {"string"}:
        return "date"
    return col_type


def flatten_schema(d, *args, **kwargs):
    """A property whose schema is {} (singer-sdk's AnyType) is kept as a JSON column."""
    properties = d.get("properties") if isinstance(d, dict) else None
    if properties and any(v == {} for v in properties.values()):
        d = dict(d)
        d["properties"] = {
            k: (dict(_ANY_JSON_SCHEMA) if v == {} else v) for k, v in properties.items()
        }
    return _upstream_flatten_schema(d, *args, **kwargs)


def add_metadata_values_to_record(record_message):
    """_sdc_batched_at in UTC (0.8.0 uses the local wall clock)."""
    record = _upstream_add_metadata_values_to_record(record_message)
    record["_sdc_batched_at"] = datetime.now(timezone.utc).isoformat()
    return record
