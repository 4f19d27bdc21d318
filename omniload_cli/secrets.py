"""Keeping the Asana token secret.

The token must never be visible in `ps` (so it is passed to tap-asana inside a
config *file*, never as an argument), never be written anywhere but a private
0600 file inside a private 0700 directory that is removed afterwards (also on
failure and Ctrl-C), and never be echoed back in anything we relay from the
children's stderr.  The scrubber is defensive: tap-asana promises not to print
the token, but we do not rely on that promise.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from urllib.parse import quote, quote_plus

REDACTED = "***"


class Scrubber:
    """Replaces every known spelling of the secrets in a string."""

    def __init__(self, *secrets: str | None):
        variants: set[str] = set()
        for s in secrets:
            if not s:
                continue
            # The raw token plus the forms it takes inside URLs/JSON, so a
            # child echoing a request URL or a JSON config is scrubbed too.
            variants.update({s, quote(s, safe=""), quote(s), quote_plus(s),
                             json.dumps(s)[1:-1]})
        # Longest first so a shorter variant never leaves part of a longer one.
        self._variants = sorted((v for v in variants if len(v) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for v in self._variants:
            if v in text:
                text = text.replace(v, REDACTED)
        return text


class PrivateDir:
    """A mkdtemp() directory (mode 0700) for configs, catalog, state and the
    target's CSV batches; removed on exit whatever happened."""

    def __init__(self, prefix: str = "omniload-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o700)

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
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "PrivateDir":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
