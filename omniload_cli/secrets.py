"""Keeping the Asana token (and a database password) secret.

The token must never be visible in `ps` (so it is passed to tap-asana inside a
config file, never as an argument), never be written to disk (the configs
that hold secrets are anonymous in-memory files, memfds, that the children
read as /dev/fd/N and that vanish with omniload, even a killed one; where
there are none, a private 0600 file inside a private 0700 directory that is
removed afterwards, also on failure and Ctrl-C), and never be echoed back in
anything we relay from the children's stderr.  The scrubber is defensive:
tap-asana promises not to print the token, but we do not rely on that
promise.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from urllib.parse import quote, quote_plus

from omniload_cli.entry import ARGV_FD, HANDED_OVER_ENV

# Variables that may hold the token (a source URI), a database password (a
# destination URI), or the way to them: no child process omniload starts gets them.
TOKEN_VARIABLES = (*HANDED_OVER_ENV, ARGV_FD)

REDACTED = "***"
# How a config held in memory is named on a child's command line: the child
# gets descriptor N at the same number (fds_named) and opens it by this path.
FD_PATH = "/dev/fd/"
# A secret this long is no word of an ordinary value: a variable that holds
# it anywhere carries it.  A shorter one (a password "bin" is in every PATH)
# counts only as a value of its own: the whole value, or delimited the way a
# URI or a key=value list delimits one.
_UNMISTAKABLE = 8


def _spellings(secret: str) -> set[str]:
    """The raw secret plus the forms it takes inside URLs and JSON."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}


def carries(value: str, secret: str) -> bool:
    """Whether an environment variable's value holds secret."""
    import re

    for form in _spellings(secret):
        if len(form) >= _UNMISTAKABLE:
            if form in value:
                return True
        elif value == form or re.search(r"(^|[:=\s])" + re.escape(form) + r"($|[@\s&;,])", value):
            return True
    return False


class Scrubber:
    """Replaces every known spelling of the secrets in a string."""

    def __init__(self, *secrets: str | None):
        variants: set[str] = set()
        for s in secrets:
            if not s:
                continue
            # So a child echoing a request URL or a JSON config is scrubbed too.
            variants.update(_spellings(s))
        # Longest first so a shorter variant never leaves part of a longer one.
        self._variants = sorted((v for v in variants if len(v) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for v in self._variants:
            if v in text:
                text = text.replace(v, REDACTED)
        return text


class PrivateDir:
    """A mkdtemp() directory (mode 0700) for configs, catalog, state and the
    target's CSV batches; removed on exit whatever happened.

    Only a SIGKILL (or a power cut) skips that removal.  So the directory's
    owner holds an flock on ``.alive`` inside it for as long as it lives, and
    every new PrivateDir first removes the directories of the same prefix
    whose lock nobody holds any more: the next run cleans up after a killed
    one (flock, not a pid check, so a run in another pid namespace sharing
    /tmp is never mistaken for a dead one)."""

    def __init__(self, prefix: str = "omniload-"):
        sweep_abandoned(prefix)
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o700)
        self._alive = _hold_lock(os.path.join(self.path, ".alive"))
        self._memory: list[int] = []

    def write_config(self, name: str, obj) -> str:
        """A child's config that holds a secret, and the path the child opens
        it by: an anonymous in-memory file (memfd) as /dev/fd/N -- never on
        disk, so not left behind by a killed run either.  Where there is no
        memfd (or no /dev/fd), a private file (write_json)."""
        if not (hasattr(os, "memfd_create") and os.path.isdir(FD_PATH)):
            return self.write_json(name, obj)
        fd = os.memfd_create(name, os.MFD_CLOEXEC)     # a child gets it only through pass_fds
        self._memory.append(fd)
        with open(fd, "w", closefd=False) as f:
            json.dump(obj, f)
        # The child's open() of /dev/fd/N is a new open of the file: it reads from the start.
        return f"{FD_PATH}{fd}"

    def write_json(self, name: str, obj) -> str:
        path = os.path.join(self.path, name)
        # O_EXCL + mode 0600 at creation: there is no moment when the file
        # exists with looser permissions.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        return path

    def subdir(self, name: str) -> str:
        path = os.path.join(self.path, name)
        os.mkdir(path, 0o700)
        return path

    def cleanup(self) -> None:
        for fd in self._memory:
            os.close(fd)
        self._memory.clear()
        shutil.rmtree(self.path, ignore_errors=True)
        if self._alive is not None:
            os.close(self._alive)
            self._alive = None


def in_memory(path: str) -> bool:
    """A config write_config kept in memory (nothing on disk to delete)."""
    return path.startswith(FD_PATH)


def fds_named(argv: list[str]) -> tuple[int, ...]:
    """The descriptors a child's arguments name as /dev/fd/N: what it must inherit."""
    return tuple(int(a[len(FD_PATH):]) for a in argv if a.startswith(FD_PATH) and a[len(FD_PATH):].isdigit())


def _hold_lock(path: str) -> int | None:
    try:
        import fcntl
        # Locked before it gets its name, so a sweeper never sees it unlocked.
        fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT, 0o600)  # not inherited
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(path + ".new", path)
        return fd
    except (ImportError, OSError):
        return None


def sweep_abandoned(prefix: str = "omniload-", root: str | None = None) -> None:
    """Remove our private dirs left behind by runs that were killed."""
    try:
        import fcntl
        root = root or tempfile.gettempdir()
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except (ImportError, OSError):
        return
    uid = os.getuid()
    for name in names:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
            if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != uid:
                continue
            fd = os.open(os.path.join(path, ".alive"), os.O_RDONLY)
        except OSError:
            continue                  # no lock file (yet): not provably abandoned
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue                  # its run is alive
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
