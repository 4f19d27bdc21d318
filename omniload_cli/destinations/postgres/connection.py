"""Connecting to the PostgreSQL server, and what a failure to connect says in one line.

omniload talks to the server with psycopg 3 (imported here only: a DuckDB
run never loads it).  Every error names the server and database, never the
password: libpq's messages do not contain it, and omniload's Scrubber
removes it from anything relayed anyway.
"""

from __future__ import annotations

import os

from omniload_cli.errors import DestinationError
from omniload_cli.uri import PostgresDest

CONNECT_TIMEOUT_S = 15   # unless the URI's connect_timeout says otherwise
APPLICATION = "omniload"
# libpq's TCP keepalives on omniload's own connection, unless the URI sets
# them: a server that vanished (its host crashed, the network cut) is noticed
# by that session within about 90 s, not the kernel's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 6}
# The same asked of the server for omniload's own session, which holds the
# run's locks: when omniload's host crashes, the server ends the session,
# and so frees the locks, as soon.  (Ignored on a unix socket.)
_SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10",
                      "SET tcp_keepalives_count = 6")
# PostgreSQL 14 and later end sessions idle longer than idle_session_timeout
# where a server sets it, and omniload's own idles through the whole load.
# (The loader's may be ended between batches: SQLAlchemy's pre-ping replaces
# them.)
IDLE_SESSION_TIMEOUT_SINCE = 140000


def application_name(pid: int | None = None) -> str:
    """What pg_stat_activity shows for omniload's session: a waiting run
    reads the holder's PID from it."""
    return f"{APPLICATION} (pid {pid or os.getpid()})"


def holder_pid(application: str | None) -> int | None:
    prefix = f"{APPLICATION} (pid "
    if application and application.startswith(prefix) and application.endswith(")"):
        number = application[len(prefix):-1]
        return int(number) if number.isdigit() else None
    return None


def connect(dest: PostgresDest):
    """An autocommit connection (transactions are explicit), or a
    DestinationError saying why not."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    params = {**KEEPALIVES, **dest.conninfo()}
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.update(application_name=application_name(), client_encoding="UTF8")
    try:
        con = psycopg.connect(make_conninfo("", **params), autocommit=True)
        con.execute("SET TIME ZONE 'UTC'")
        for statement in _SERVER_KEEPALIVES:
            con.execute(statement)
        if con.info.server_version >= IDLE_SESSION_TIMEOUT_SINCE:
            con.execute("SET idle_session_timeout = 0")
    except psycopg.Error as exc:
        raise DestinationError(_why(dest, exc)) from None
    return con


def _why(dest: PostgresDest, exc: Exception) -> str:
    text = " ".join(str(exc).split())
    low = text.lower()
    who = f"user {dest.user!r}" if dest.user else "the user"
    where = dest.where
    if "password authentication failed" in low or "no password supplied" in low:
        return (f"PostgreSQL refused the password of {who} for {where}; check the password in --dest-uri "
                f"(percent-encoded: @ as %40, : as %3A, / as %2F, # as %23)")
    if "does not exist" in low and "database" in low:
        return f"{where} does not exist; create it first (CREATE DATABASE {dest.database})"
    if "does not exist" in low and "role" in low:
        return f"PostgreSQL has no role {dest.user!r} ({where})"
    if "permission denied for database" in low or "not permitted to log in" in low:
        return f"{who} may not connect to {where} (GRANT CONNECT ON DATABASE {dest.database} TO {dest.user})"
    if "pg_hba.conf" in low:
        return f"PostgreSQL does not accept connections of {who} to {where} from this machine (its pg_hba.conf)"
    if any(m in low for m in ("connection refused", "could not translate host name", "failed to resolve host",
                              "name or service not known", "timeout expired",
                              "no such file or directory", "network is unreachable", "no route to host",
                              "could not connect")):
        detail = _libpq_reason(text)
        return f"cannot reach PostgreSQL for {where}: {detail}"
    return f"cannot connect to PostgreSQL for {where}: {_libpq_reason(text)}"


def _libpq_reason(text: str) -> str:
    """libpq's reason without its 'connection to server at ... failed:' preamble."""
    reason = text.rsplit("failed:", 1)[-1].strip()
    reason = reason.removeprefix("FATAL:").strip()
    return (reason or text)[:300]
