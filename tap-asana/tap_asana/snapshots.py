"""The compressed text a stream keeps in its state to compare the next run
with: one `gid value` line per entry (tasks' fingerprints, the subtask
tree, each task's stories), zlib-compressed and base64-encoded so that a
Singer STATE message carries it as one string."""

from __future__ import annotations

import base64
import zlib


def encode_snapshot(snapshot: dict[str, str]) -> str:
    """{gid: value} as compressed text, small enough for a Singer STATE."""
    lines = "\n".join(f"{gid} {value}" for gid, value in sorted(snapshot.items()))
    return base64.b64encode(zlib.compress(lines.encode(), 9)).decode("ascii")


def decode_snapshot(encoded: str | None) -> dict[str, str] | None:
    if not encoded:
        return None
    text = zlib.decompress(base64.b64decode(encoded)).decode()
    return dict(line.split(" ", 1) for line in text.splitlines() if line)
