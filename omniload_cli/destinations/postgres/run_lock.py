"""One omniload run per PostgreSQL table at a time: advisory locks.

Two runs on the same table must not interleave (each one's publish, or its
clean-up of abandoned stages, would break the other's), while runs on other
tables of the same database may go side by side.  So a run takes, on its
own connection, a session-level advisory lock per destination table and
holds them until its last clean-up; the server drops them when that
connection ends, also when omniload is killed, so no lock is ever stale.

Each key is (NAMESPACE, 31 bits of a hash of "schema.table"): the two-int
form keeps omniload's locks apart from other programs' single-bigint ones,
and advisory locks belong to one database already.  A run takes its keys in
sorted order, so two runs that want overlapping sets never deadlock.  A
waiting run names the holder by the PID in its session's application_name
(connection.application_name), and polls, so --lock-timeout is honoured to
the tenth of a second.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from omniload_cli.destinations import busy_message, waiting_message
from omniload_cli.destinations.postgres.connection import holder_pid
from omniload_cli.errors import DestinationError
from omniload_cli.uri import DestTable

NAMESPACE = 0x6F6D6E69      # "omni"
_POLL_S = 0.1


def key(name: str) -> tuple[int, int]:
    """The advisory lock key of a name (schema.table, or an omniload object)."""
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return NAMESPACE, int.from_bytes(digest, "big") & 0x7FFFFFFF


class AdvisoryRunLock:
    def __init__(self, con_factory: Callable[[], Any], tables: Sequence[DestTable], display: str, *,
                 timeout_s: float, on_wait: Callable[[str], None] | None = None):
        self._connect = con_factory
        self.tables = sorted(set(tables), key=lambda t: key(t.display))
        self.display = display
        self.timeout_s = timeout_s
        self._on_wait = on_wait
        self.con: Any = None

    def acquire(self):
        """The connection that holds the locks (the run's connection)."""
        import psycopg

        con = self._connect()
        deadline = time.monotonic() + self.timeout_s
        announced = False
        what = self.display
        try:
            for table in self.tables:
                k = key(table.display)
                what = f"{table.display} in {self.display}"
                while not con.execute("SELECT pg_try_advisory_lock(%s, %s)", k).fetchone()[0]:
                    holder = self._holder(con, k)
                    if time.monotonic() >= deadline:
                        raise DestinationError(busy_message(holder, what, self.timeout_s))
                    if not announced and self._on_wait is not None:
                        self._on_wait(waiting_message(holder, what, self.timeout_s))
                        announced = True
                    time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
        except psycopg.Error as exc:
            # The server ended the session (a restart, pg_terminate_backend) or the network did.
            con.close()
            raise DestinationError(f"the connection to PostgreSQL broke while taking the run's lock on {what} "
                                   f"({' '.join(str(exc).split())}); nothing was changed") from None
        except BaseException:
            con.close()
            raise
        self.con = con
        return con

    def release(self) -> None:
        """Closing the session releases its locks (and ends anything left of it)."""
        if self.con is not None:
            try:
                self.con.close()
            finally:
                self.con = None

    @staticmethod
    def _holder(con, k: tuple[int, int]) -> int | None:
        row = con.execute(
            "SELECT a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())", k).fetchone()
        return holder_pid(row[0]) if row else None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
