"""The compressed text a stream keeps in its state to compare the next run
with: one `gid value` line per entry (tasks' fingerprints, the subtask
tree, each task's stories), zlib-compressed and base64-encoded so that a
Singer STATE message carries it as one string.

A million subtasks make some 45 MB of it, so both ways go a chunk at a
time: neither the whole text nor a list of its lines is ever held. zlib's
level 6 makes it as small as level 9 does in a fifth of the time; any
level decodes the same, so older states stay readable.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Iterator

LEVEL = 6
CHUNK = 1 << 16   # bytes of text (encoding) or of compressed data (decoding) at a time


def encode_lines(lines: Iterable[tuple[str, str]]) -> str:
    """(gid, value) pairs, in the order given, as compressed text."""
    compressor = zlib.compressobj(LEVEL)
    out: list[bytes] = []
    pending: list[str] = []
    size = 0
    for gid, value in lines:
        line = f"{gid} {value}\n"
        pending.append(line)
        size += len(line)
        if size >= CHUNK:
            out.append(compressor.compress("".join(pending).encode()))
            pending, size = [], 0
    out.append(compressor.compress("".join(pending).encode()))
    out.append(compressor.flush())
    return base64.b64encode(b"".join(out)).decode("ascii")


def decode_lines(encoded: str) -> Iterator[tuple[str, str]]:
    """The (gid, value) pairs of encode_lines' text, in its order."""
    data = base64.b64decode(encoded)
    decompressor = zlib.decompressobj()

    def texts() -> Iterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield decompressor.decompress(data[start:start + CHUNK])
        yield decompressor.flush()

    tail = b""
    for text in texts():
        *lines, tail = (tail + text).split(b"\n")
        for line in lines:
            if line:
                gid, _, value = line.decode().partition(" ")
                yield gid, value
    if tail:
        gid, _, value = tail.decode().partition(" ")
        yield gid, value


def encode_snapshot(snapshot: dict[str, str]) -> str:
    """{gid: value} as compressed text, small enough for a Singer STATE."""
    return encode_lines((gid, snapshot[gid]) for gid in sorted(snapshot))


def decode_snapshot(encoded: str | None) -> dict[str, str] | None:
    return dict(decode_lines(encoded)) if encoded else None
