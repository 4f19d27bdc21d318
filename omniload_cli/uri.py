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

Destination: ``postgresql://user:password@host:port/database?sslmode=require``
(``postgres://`` too), as ingestr and libpq accept it: user, password and
database percent-decoded (``+`` stays a plus, as in the token), port 5432 by
default, libpq's connection parameters in the query (``sslmode``,
``connect_timeout``, ``?host=/var/run/postgresql`` for a unix socket, ...).
Only parameters from a list are accepted, so a typo is an error and not a
silently ignored setting.  The password is a secret like the token: no
error message repeats it, nor any part of the URI that could hold it (a
raw ``#``, ``@`` or ``&`` in it must be percent-encoded).

Destination table: ``schema.table`` or ``table`` (schema ``main`` on DuckDB,
``public`` on PostgreSQL).  Names are
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
from urllib.parse import quote, unquote

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

    default_schema = "main"


# libpq connection parameters a --dest-uri may carry, and checks of some values.
# Not user, password, dbname (the URI's own parts say them), application_name
# (omniload's runs name themselves by it) or client_encoding (always UTF8).
PG_PARAMS = ("host", "hostaddr", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl",
             "sslcrldir", "sslsni", "sslcompression", "ssl_min_protocol_version", "ssl_max_protocol_version",
             "connect_timeout", "options", "target_session_attrs", "keepalives", "keepalives_idle",
             "keepalives_interval", "keepalives_count", "tcp_user_timeout", "gssencmode", "krbsrvname",
             "channel_binding", "require_auth", "passfile", "service")
_PG_OWN = {"user": "put the user before the host: postgresql://user:password@host/db",
           "password": "put the password after the user: postgresql://user:password@host/db",
           "dbname": "put the database in the path: postgresql://user@host:5432/<database>",
           "application_name": "omniload names its sessions itself (application_name shows its PID)",
           "client_encoding": "omniload always talks UTF8 to the server"}
_PG_CHOICES = {"sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
               "gssencmode": ("disable", "prefer", "require"),
               "channel_binding": ("disable", "prefer", "require"),
               "target_session_attrs": ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")}
PG_DEFAULT_PORT = 5432
# Postgres cuts identifiers at 63 bytes; the run's stage adds 25 characters
# to the table's name (STAGE_PREFIX, "_", the 8-character run id).
PG_MAX_IDENT = 63
PG_MAX_TABLE = PG_MAX_IDENT - 25


@dataclass(frozen=True)
class PostgresDest:
    host: str | None           # a name, an address, or a unix-socket directory (starts with /)
    port: int
    database: str
    user: str | None
    password: str | None = field(default=None, repr=False)   # never in a repr, a log or an error
    params: tuple[tuple[str, str], ...] = ()   # libpq parameters from the query, in order

    default_schema = "public"

    @property
    def where(self) -> str:
        """host:port (or the socket directory) and database: what errors name."""
        if self.host is None:
            server = f"the default unix socket (port {self.port})"
        elif self.host.startswith("/"):
            server = f"the unix socket in {self.host} (port {self.port})"
        else:
            server = f"{self.host}:{self.port}"
        return f"database {self.database!r} on {server}"

    @property
    def display(self) -> str:
        """The URI without the password: safe for logs and the summary."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        host = self.host or ""
        query = ""
        if host.startswith("/"):
            query, host = f"?host={quote(host, safe='/')}", ""
        elif ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port != PG_DEFAULT_PORT and host else ""
        if not host and self.port != PG_DEFAULT_PORT:
            query += f"{'&' if query else '?'}port={self.port}"
        return f"postgresql://{user}{host}{port}/{quote(self.database, safe='')}{query}"

    def conninfo(self) -> dict[str, str | int]:
        """libpq's keyword arguments (psycopg.connect(**conninfo()))."""
        out: dict[str, str | int] = {"dbname": self.database, "port": self.port}
        if self.host is not None:
            out["host"] = self.host
        if self.user is not None:
            out["user"] = self.user
        if self.password is not None:
            out["password"] = self.password
        out.update(dict(self.params))
        return out


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


def parse_dest_uri(uri: str | None, cwd: str | None = None) -> DuckDBDest | PostgresDest:
    if not uri:
        raise UsageError("missing --dest-uri (or DESTINATION_URI), e.g. duckdb://./work.db")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise UsageError("--dest-uri must look like duckdb://./work.db, duckdb:////abs/path/work.db "
                         "or postgresql://user:password@host:5432/database")
    if scheme.lower() in ("postgresql", "postgres"):
        return _parse_postgres(rest)
    if scheme.lower() != "duckdb":
        raise UsageError(f"unsupported destination scheme {_safe(scheme)!r}; use duckdb:// or postgresql://")
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


def _parse_postgres(rest: str) -> PostgresDest:
    """What follows postgresql://.  No error repeats the userinfo (the
    password) or a query value (it may be the tail of a password with a raw
    '&' or '#')."""
    example = "postgresql://user:password@host:5432/database"
    if "#" in rest:
        raise UsageError("the destination URI contains a '#': a '#' in the password (or anywhere) must be "
                         "percent-encoded as %23")
    location, _, query = rest.partition("?")
    netloc, slash, path = location.partition("/")
    userinfo, at, hostport = _pg_netloc(netloc)
    user = password = None
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = _pg_decode(raw_user, "user name") or None
        if colon:
            password = _pg_decode(raw_password, "password")
        if password and not user:
            raise UsageError(f"the destination URI has a password but no user name: {example}")
    host, port = _pg_host_port(hostport)
    if not slash or not path:
        raise UsageError(f"the destination URI names no database: {example}")
    database = _pg_decode(path, "database name")
    if "/" in database:
        raise UsageError(f"the database name in the destination URI may not contain '/' (percent-encode it "
                         f"as %2F if it really does): {example}")
    params: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        key = unquote(key)
        if key in _PG_OWN:
            raise UsageError(f"the destination URI may not set {key} as a parameter: {_PG_OWN[key]}")
        if key not in PG_PARAMS:
            import difflib

            close = difflib.get_close_matches(key.lower(), PG_PARAMS, n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"the destination URI has a parameter omniload does not know (not repeated here: it "
                             f"may be part of the password){hint} Valid: {', '.join(PG_PARAMS[:9])}, ... "
                             f"(libpq's). A password containing &, # or % must be percent-encoded")
        if not eq or not value:
            raise UsageError(f"the destination URI's parameter {key} has no value")
        if key in params:
            raise UsageError(f"the destination URI sets {key} twice")
        params[key] = _pg_decode(value, f"value of {key}")
    for key, choices in _PG_CHOICES.items():
        if key in params and params[key] not in choices:
            raise UsageError(f"invalid {key} in the destination URI: use one of {', '.join(choices)}")
    for key in ("connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                "tcp_user_timeout"):
        if key in params and not params[key].isdigit():
            raise UsageError(f"invalid {key} in the destination URI: a whole number of seconds "
                             f"(milliseconds for tcp_user_timeout)")
    if "host" in params:
        if host is not None:
            raise UsageError("the destination URI names a host twice (before the database and as ?host=); "
                             "name it once")
        host = params.pop("host")
        if not host.startswith("/") and ("/" in host or not _PG_HOST.match(host)):
            raise UsageError("invalid ?host= in the destination URI: a host name, an address, or the "
                             "directory of a unix socket (an absolute path, e.g. ?host=/var/run/postgresql)")
    if "port" in params:
        if hostport.rpartition(":")[1] and not hostport.endswith("]"):
            raise UsageError("the destination URI names a port twice (after the host and as ?port=); name it once")
        port = _pg_port(params.pop("port"))
    return PostgresDest(host, port, database, user, password, tuple(params.items()))


def _pg_netloc(netloc: str) -> tuple[str, str, str]:
    """(userinfo, '@' or '', host:port): the last '@' ends the userinfo."""
    userinfo, at, hostport = netloc.rpartition("@")
    return (userinfo, at, hostport) if at else ("", "", netloc)


def postgres_passwords_in(text: str) -> list[str]:
    """The password of every postgresql:// (postgres://) URI in text, as
    `_parse_postgres` would read it (raw and percent-decoded), whatever
    else is wrong with the URI: what no error may show."""
    out = []
    for m in re.finditer(r"postgres(?:ql)?://", text, re.I):
        netloc = text[m.end():].partition("?")[0].partition("/")[0]
        userinfo, at, _ = _pg_netloc(netloc)
        raw = userinfo.partition(":")[2]
        if at and raw:
            out += [raw, unquote(raw)]
    return out


_PG_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:.]+$")


def _pg_host_port(hostport: str) -> tuple[str | None, int]:
    if hostport.startswith("["):
        inner, close, after = hostport[1:].partition("]")
        if not close or not inner:
            raise UsageError("invalid host in the destination URI: an IPv6 address in brackets, e.g. "
                             "postgresql://user@[::1]:5432/database")
        if after and not after.startswith(":"):
            raise UsageError("invalid host in the destination URI: after ']' only ':<port>' may follow")
        return inner, _pg_port(after[1:]) if after else PG_DEFAULT_PORT
    host, colon, port = hostport.partition(":")
    host = unquote(host)
    if host and not _PG_HOST.match(host):
        raise UsageError("invalid host in the destination URI: letters, digits, '.', '-' and '_' "
                         "(a unix socket goes in ?host=/path/to/dir)")
    return host or None, _pg_port(port) if colon else PG_DEFAULT_PORT


def _pg_port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        # Not echoed: in a URI without '@' (user:password/db) the password is here.
        raise UsageError("invalid port in the destination URI: a number from 1 to 65535 (5432 if left out), "
                         "e.g. postgresql://user:password@host:5432/database")
    return int(value)


def _pg_decode(value: str, what: str) -> str:
    """Percent-decoded ('+' stays a plus), as UTF-8; never echoed."""
    try:
        decoded = unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise UsageError(f"the {what} in the destination URI is not percent-encoded UTF-8") from None
    if "\x00" in decoded:
        raise UsageError(f"the {what} in the destination URI contains a NUL character")
    return decoded


def check_table_for(dest: DuckDBDest | PostgresDest, table: DestTable, flag: str = "--dest-table") -> None:
    """Names a destination cannot hold as they are (Postgres would cut them);
    flag: what named the table (--dest-schema names only its schema)."""
    if not isinstance(dest, PostgresDest):
        return
    if len(table.schema) > PG_MAX_IDENT:
        named = table.schema if flag == "--dest-schema" else table.display
        raise UsageError(f"{flag} {_safe(named)} is too long for PostgreSQL: a schema name has at most "
                         f"{PG_MAX_IDENT} characters")
    if len(table.table) > PG_MAX_TABLE:
        raise UsageError(f"{flag} {_safe(table.display)} is too long for PostgreSQL: at most {PG_MAX_TABLE} "
                         f"characters for the table (its staging table adds 25 to the 63 Postgres allows)")


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


def parse_dest_table(value: str | None, source_table: str, default_schema: str = "main") -> DestTable:
    """None -> <default_schema>.<source_table> (main on DuckDB, public on
    PostgreSQL), as ingestr v1 does."""
    if not value:
        return DestTable(default_schema, source_table)
    parts = value.split(".")
    if len(parts) > 2:
        raise UsageError(f"invalid --dest-table {_safe(value)!r}: use schema.table or table")
    for p in parts:
        if not _IDENT.match(p):
            raise UsageError(
                f"invalid --dest-table {_safe(value)!r}: names may contain only letters, digits "
                f"and underscores and must not start with a digit")
    schema, table = (parts if len(parts) == 2 else [default_schema, parts[0]])
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
