"""The snapshots in the state: written a chunk at a time, read back the
same, and a state an older tap wrote (one zlib block at level 9) still reads."""

from __future__ import annotations

import base64
import zlib

from tap_asana.snapshots import CHUNK, decode_snapshot, encode_snapshot
from tap_asana.subtask_tree import Node, SubtaskTree


def test_a_snapshot_reads_back_as_written_across_chunks():
    snapshot = {str(1204000000000000 + i * 7919): f"{i % 97:x} {'é' * (i % 3)}" for i in range(3 * CHUNK // 20)}
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot
    assert decode_snapshot(encode_snapshot({})) == {}
    assert decode_snapshot(None) is None and decode_snapshot("") is None


def test_a_state_from_an_older_tap_still_reads():
    snapshot = {"1204000000000001": "a1b2c3d4e5f6", "1204000000000002": "- - 0a0b0c0d"}
    older = base64.b64encode(zlib.compress(
        "\n".join(f"{gid} {value}" for gid, value in sorted(snapshot.items())).encode(), 9)).decode()
    assert decode_snapshot(older) == snapshot
    tree = SubtaskTree.decode(base64.b64encode(zlib.compress(
        b"1204000000000001 - - 0a0b0c0d\n1204000000000002 1204000000000001 a1b2c3d4e5f6 01020304", 9)).decode())
    assert tree is not None and tree.nodes == {
        "1204000000000001": Node("-", "-", "0a0b0c0d"),
        "1204000000000002": Node("1204000000000001", "a1b2c3d4e5f6", "01020304")}
    assert SubtaskTree.decode(tree.encode()).nodes == tree.nodes
