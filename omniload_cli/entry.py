"""The `omniload` console script's first step: get the token out of sight.

A --source-uri argument, or SOURCE_URI / OMNILOAD_SOURCE_URI in the
environment, carries the Asana token (a PostgreSQL --dest-uri or
DESTINATION_URI, a password), and a process's arguments are readable
by every user (/proc/<pid>/cmdline; its environment by the same user and
root) for as long as it runs. So before anything else is imported, this
writes them to an anonymous in-memory file (memfd; an unlinked 0600 file
where there is none), and re-executes the same program without them,
passing that file's descriptor in OMNILOAD_ARGV_FD -- the hand-over the
`./omniload` script does in a clone. cli.py reads them back.
"""

from __future__ import annotations

import os
import sys

ARGV_FD = "OMNILOAD_ARGV_FD"
# They may hold the Asana token, or a database password.
HANDED_OVER_ENV = ("SOURCE_URI", "OMNILOAD_SOURCE_URI", "DESTINATION_URI", "OMNILOAD_DESTINATION_URI")


def main() -> int:
    if ARGV_FD not in os.environ and (len(sys.argv) > 1 or any(os.environ.get(n) for n in HANDED_OVER_ENV)):
        _hand_over_and_reexec()
    from omniload_cli.cli import main as cli_main

    return cli_main()


def _hand_over_and_reexec() -> None:
    """Never returns: the same program again, its secrets in a file on a
    descriptor.  The format is ./omniload's: NUL-separated, the argument
    count, the arguments, then NAME=value entries."""
    args = sys.argv[1:]
    entries = [str(len(args)), *args,
               *(f"{name}={os.environ[name]}" for name in HANDED_OVER_ENV if os.environ.get(name))]
    data = b"".join(e.encode("utf-8", "surrogateescape") + b"\0" for e in entries)
    fd = _private_file()
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    env = {k: v for k, v in os.environ.items() if k not in HANDED_OVER_ENV}
    env[ARGV_FD] = str(fd)
    # Started as `python <script> ARGS` (the console script) or `python -m
    # omniload_cli ARGS`: the same again, minus the ARGS.
    started_as = sys.orig_argv[:len(sys.orig_argv) - len(args)]
    os.execve(sys.executable, [sys.executable, *started_as[1:]], env)


def _private_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("omniload-args", 0)
    import tempfile

    fd, path = tempfile.mkstemp(prefix="omniload-args.")   # 0600
    os.unlink(path)
    return fd
