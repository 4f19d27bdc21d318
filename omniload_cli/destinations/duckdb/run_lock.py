"""One omniload run per destination at a time.

Cron jobs overlap and people start a manual run while the scheduled one is
going.  Two runs on one DuckDB file must not interleave: each one checks the
file, creates it if needed, lets the loader fill a stage, publishes and, on
failure, undoes what it created -- and any of those steps, done by one run in
the middle of another's, loses the other's data.  So a run holds an exclusive
lock for its whole length, from before it first opens the destination until
after its last clean-up.

The lock is an flock(2) on ``<database file>.omniload.lock`` beside the
database (a lock the kernel drops when its holder dies, even by SIGKILL, so
no lock is ever stale).  The holder writes its PID into the file, so a
waiting run can say whom it waits for, and removes the file when it is done;
a file left by a killed run is simply locked again by the next one.  Taking
a lock whose file can be removed by its holder needs one check: after
flock() succeeds, the path must still name the file that was locked,
otherwise the lock was won on a file that is gone, and the run tries again.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable

from omniload_cli.destinations import DEFAULT_LOCK_TIMEOUT_S, busy_message, waiting_message
from omniload_cli.errors import DestinationError

LOCK_SUFFIX = ".omniload.lock"
_POLL_S = 0.1


class RunLock:
    def __init__(self, db_path: str, display: str, *, timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                 on_wait: Callable[[str], None] | None = None):
        # The real path: one file reached through a symlink is one lock.
        self.path = os.path.realpath(db_path) + LOCK_SUFFIX
        self.display = display
        self.timeout_s = timeout_s
        self._on_wait = on_wait
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        announced = False
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise DestinationError(busy_message(holder, self.display, self.timeout_s)) from None
                if not announced and self._on_wait is not None:
                    self._on_wait(waiting_message(holder, self.display, self.timeout_s))
                    announced = True
                time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
                continue
            if not self._still_named(fd):
                os.close(fd)        # its holder removed it after we opened it
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return

    def release(self) -> None:
        """Remove the file while still holding it, then let go."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _open(self) -> int:
        try:
            # O_CLOEXEC: the children must not inherit (and so extend) the lock.
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise DestinationError(
                f"cannot use the destination {self.display}: creating its lock file "
                f"{self.path} failed ({exc.strerror})") from None

    def _still_named(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(raw) if raw.isdigit() else None
    except OSError:
        return None
