"""Parsing --source-uri, --dest-uri and --dest-table (no I/O, no network).

Source: ``asana://<workspace_gid>?access_token=<token>[&api_url=..][&start_date=..]``

- Query values are percent-decoded, but ``+`` stays a literal plus.  Asana
  personal access tokens look like ``2/1204.....:a1b2c3...``; ``/`` and ``:``
  need no encoding, and standard form decoding (ingestr's) would silently turn
  a ``+`` into a space and make a valid token fail with a confusing 401.
  ``%2B`` also means plus, so both spellings work.  ``&``, ``#`` and ``%`` inside
  a token must be percent-encoded (they never occur in Asana tokens).
- Unknown query parameters are refused so a typo (``acess_token``) is reported
  as such instead of as "missing token".

Destination: ``duckdb://./work.db`` or ``duckdb://work.db`` (relative to the
current directory), ``duckdb:////abs/path/work.db`` (absolute),
``duckdb:///work.db`` (relative, as in ingestr v1).  In-memory databases are
refused: the data would vanish with the loader process.  One option,
``?storage_version=v1.2.0`` (the default) or ``latest`` or any DuckDB release
``vX.Y.Z``: the storage format a NEW file is written in.  The default opens
in every duckdb since 1.2 (early 2025), so in whatever CLI or notebook a user
likely has; an existing file keeps its format.  Not older: written by duckdb
2.0 in the v1.0/v1.1 formats, a file was corrupted when a write failed
(disk full) mid-load, where v1.2 and later roll back cleanly.

Destination table: ``schema.table`` or ``table`` (schema ``main``).  Names are
plain SQL identifiers (letters, digits, underscore, not starting with a digit),
folded to lower case because DuckDB compares identifiers case-insensitively and
target-duckdb lower-cases table names.  Nothing else can reach SQL, and every
identifier is still quoted when used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import unquote

from omniload_cli.errors import UsageError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GID = re.compile(r"^[A-Za-z0-9_-]+$")
RESERVED_SCHEMA = "_omniload"
STAGE_PREFIX = "_omniload_stage_"
SOURCE_PARAMS = ("access_token", "api_url", "start_date")


@dataclass(frozen=True)
class AsanaSource:
    workspace_gid: str
    access_token: str = field(repr=False)  # repr=False: never in a traceback/log
    api_url: str | None = None
    start_date: str | None = None

    @property
    def display(self) -> str:
        """The URI without the token: safe for logs, the summary and state."""
        return f"asana://{self.workspace_gid}"


DEFAULT_STORAGE_VERSION = "v1.2.0"
_STORAGE_VERSION = re.compile(r"^(v\d+\.\d+\.\d+|latest)$")


@dataclass(frozen=True)
class DuckDBDest:
    path: str          # absolute
    display: str       # as the user wrote it
    storage_version: str = DEFAULT_STORAGE_VERSION   # for a file omniload creates


@dataclass(frozen=True)
class DestTable:
    schema: str
    table: str

    def stage(self, run_id: str) -> str:
        """The run's own staging table: no other run can publish or drop it."""
        return f"{STAGE_PREFIX}{self.table}_{run_id}"

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.table}"


def parse_source_uri(uri: str | None) -> AsanaSource:
    if not uri:
        raise UsageError("missing --source-uri (or SOURCE_URI), e.g. asana://<workspace_gid>?access_token=<token>")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise UsageError("--source-uri must look like asana://<workspace_gid>?access_token=<token>")
    if scheme.lower() != "asana":
        raise UsageError(f"unsupported source scheme {_safe(scheme)!r}; only asana:// is supported")
    location, _, query = rest.partition("?")
    workspace = unquote(location.strip("/"))
    if not workspace:
        raise UsageError("the source URI names no workspace: use asana://<workspace_gid>?access_token=<token>")
    if not _GID.match(workspace):
        # Not echoed: a mistyped URI may have the token in this position.
        raise UsageError("invalid workspace gid in the source URI (expected digits, e.g. asana://1204567890123?access_token=...)")
    params: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        key = unquote(key)
        if key not in SOURCE_PARAMS:
            raise UsageError(_unknown_parameter(key))
        params[key] = unquote(value)  # unquote, not unquote_plus: '+' is literal
    token = params.get("access_token", "").strip()
    if not token:
        raise UsageError("the source URI has no access_token: use asana://<workspace_gid>?access_token=<token>")
    api_url = params.get("api_url") or None
    if api_url is not None and not re.match(r"^https?://[^\s/]+", api_url):
        raise UsageError("api_url in the source URI must be an http(s) URL")
    start_date = params.get("start_date") or None
    if start_date is not None:
        start_date = to_iso(parse_datetime(start_date, "start_date"))
    return AsanaSource(workspace, token, api_url, start_date)


def _unknown_parameter(name: str) -> str:
    """The error for a query part that is not a known parameter.  It never
    echoes the part: after a token with a raw '&' it IS the token's tail.
    Only our own parameter names are spelled out."""
    import difflib

    close = difflib.get_close_matches(name.lower(), SOURCE_PARAMS, n=1, cutoff=0.7)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (f"the source URI has a parameter omniload does not know (not repeated here: it may be "
            f"part of the token){hint} Valid: {', '.join(SOURCE_PARAMS)}. A token containing "
            f"&, # or % must be percent-encoded (& as %26, # as %23, % as %25)")


def parse_dest_uri(uri: str | None, cwd: str | None = None) -> DuckDBDest:
    if not uri:
        raise UsageError("missing --dest-uri (or DESTINATION_URI), e.g. duckdb://./work.db")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise UsageError("--dest-uri must look like duckdb://./work.db or duckdb:////abs/path/work.db")
    if scheme.lower() != "duckdb":
        raise UsageError(f"unsupported destination scheme {_safe(scheme)!r}; only duckdb:// is supported")
    rest, _, query = rest.partition("?")
    storage_version = _duckdb_options(query)
    rest = unquote(rest)
    if rest.startswith("//"):
        path = rest[1:]                  # duckdb:////abs/x.db -> /abs/x.db
    elif rest.startswith("/"):
        path = rest[1:]                  # duckdb:///x.db -> x.db (relative, as ingestr v1)
    else:
        path = rest                      # duckdb://./x.db, duckdb://x.db
    if not path or path in (":memory:", "/:memory:") or path.startswith((":memory:", "md:", "motherduck:")):
        raise UsageError("the destination must be a DuckDB file, e.g. duckdb://./work.db "
                         "(in-memory and MotherDuck are not supported)")
    full = os.path.abspath(os.path.join(cwd or os.getcwd(), path))
    if path.endswith("/") or os.path.isdir(full):
        # The absolute form: duckdb:///dir/... would be read as relative.
        raise UsageError(f"the destination {path!r} is a directory; name a file in it, "
                         f"e.g. duckdb:///{full.rstrip('/')}/work.db")
    return DuckDBDest(full, uri, storage_version)


def _duckdb_options(query: str) -> str:
    """The storage_version option (the only one); its value, or the default."""
    version = DEFAULT_STORAGE_VERSION
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        if unquote(key) != "storage_version":
            raise UsageError(f"unknown duckdb destination option {_safe(unquote(key))!r}; "
                             f"the only one is storage_version (e.g. ?storage_version=latest)")
        version = unquote(value).strip().lower()
        if not _STORAGE_VERSION.match(version):
            raise UsageError(f"invalid storage_version {_safe(value)!r}: use a DuckDB release "
                             f"such as v1.2.0 (the default), or latest")
        if version != "latest" and _release(version) < _release(DEFAULT_STORAGE_VERSION):
            # The duckdb we load with corrupted files in the v1.0/v1.1 formats
            # when a write failed mid-load (a full disk): not a safe choice.
            raise UsageError(f"storage_version {version} is older than {DEFAULT_STORAGE_VERSION}, "
                             f"the oldest format omniload writes safely")
    return version


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version[1:].split("."))


def parse_dest_table(value: str | None, source_table: str) -> DestTable:
    """None -> main.<source_table>, as ingestr v1 does."""
    if not value:
        return DestTable("main", source_table)
    parts = value.split(".")
    if len(parts) > 2:
        raise UsageError(f"invalid --dest-table {_safe(value)!r}: use schema.table or table")
    for p in parts:
        if not _IDENT.match(p):
            raise UsageError(
                f"invalid --dest-table {_safe(value)!r}: names may contain only letters, digits "
                f"and underscores and must not start with a digit")
    schema, table = (parts if len(parts) == 2 else ["main", parts[0]])
    schema, table = schema.lower(), table.lower()
    if schema == RESERVED_SCHEMA or table.startswith(STAGE_PREFIX):
        raise UsageError(f"invalid --dest-table {_safe(value)!r}: the {RESERVED_SCHEMA} schema and "
                         f"{STAGE_PREFIX}* tables are reserved for omniload")
    if schema in ("information_schema", "pg_catalog"):
        raise UsageError(f"invalid --dest-table {_safe(value)!r}: {schema} is a system schema")
    return DestTable(schema, table)


def parse_datetime(value: str, what: str) -> datetime:
    """Dates as ingestr accepts them: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS with
    optional fraction and offset (or Z), space instead of T.  Naive means UTC."""
    v = value.strip()
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}", v):
            raise ValueError
        dt = datetime.fromisoformat(v.replace("z", "Z"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)   # OverflowError at the ends of year 1..9999
    except (ValueError, OverflowError):
        raise UsageError(
            f"invalid {what} {_safe(value)!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM|Z]") from None


def to_iso(dt: datetime) -> str:
    """ISO 8601 in UTC (``Z``), for the tap's settings and for messages.  The
    tap turns it into Asana's own format itself (one formatter, the tap's)."""
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _safe(text: str, limit: int = 60) -> str:
    """User text echoed in an error: one line, bounded length."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
