"""Errors meant for the user: one line on stderr, a chosen exit code, no traceback.

Anything raised as an OmniloadError is printed as ``omniload: error: <msg>``
by cli.main(); everything else is a bug and is reported the same way (still
without a traceback unless OMNILOAD_DEBUG is set) so a user never sees a
Python stack by surprise.
"""


class OmniloadError(Exception):
    """A failure the user can act on.  exit_code follows the Unix habit."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        # Always a single line: child processes' messages can carry newlines.
        return " ".join(str(self).split())


class UsageError(OmniloadError):
    """Bad flags, URIs, names or dates: detected before any network call (exit 2)."""

    exit_code = 2


class DestinationError(OmniloadError):
    """The destination cannot be used (a DuckDB file unwritable, locked, not a
    database; a PostgreSQL server unreachable, a password refused, a right missing)."""


class SourceError(OmniloadError):
    """tap-asana failed (bad token, unknown workspace, API trouble)."""


class LoadError(OmniloadError):
    """The loader failed, or publishing the staged rows failed."""


class Interrupted(OmniloadError):
    """Ctrl-C or SIGTERM: children stopped, destination left as it was."""

    exit_code = 130


_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def with_disk_hint(message: str) -> str:
    """Append what to do when a message says the disk (or a quota) is full."""
    if any(m.lower() in message.lower() for m in _DISK_FULL):
        return message + " -- the disk is full (or a file size limit was hit): free space and retry"
    return message
