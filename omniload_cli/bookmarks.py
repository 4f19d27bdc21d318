"""Reading a bookmark out of the tap's Singer state, for messages and the summary."""

from __future__ import annotations


def bookmark_of(state: dict | None, stream: str) -> str | None:
    """The replication_key_value for a stream, for messages and the summary."""
    try:
        bm = (state or {}).get("bookmarks", {}).get(stream) or {}
        if "replication_key_value" in bm:
            return str(bm["replication_key_value"])
        if "tasks_modified_since" in bm:  # stories: the watermark of their tasks
            return str(bm["tasks_modified_since"])
        # Partitioned state (should the tap ever partition): the max value.
        values = [str(p["replication_key_value"]) for p in bm.get("partitions", [])
                  if "replication_key_value" in p]
        return max(values) if values else None
    except (AttributeError, TypeError):
        return None


def stream_state(state: dict | None, stream: str) -> dict | None:
    """The part of the tap's state that belongs to one stream's table.

    One tap process extracts several tables, and its state holds every
    stream's bookmark; each table stores only its own, so a table loaded
    alone next time (or not at all) keeps its bookmark apart."""
    if state is None:
        return None
    bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
    if not isinstance(bookmarks, dict):
        return {k: v for k, v in state.items() if k != "bookmarks"} if isinstance(state, dict) else None
    own = {k: v for k, v in state.items() if k != "bookmarks"}
    if stream in bookmarks:
        own["bookmarks"] = {stream: bookmarks[stream]}
    return own


def merged_state(states) -> dict:
    """One tap state from the tables' stored ones (each holding its stream's)."""
    merged: dict = {}
    for state in states:
        for key, value in (state or {}).items():
            if key == "bookmarks" and isinstance(value, dict):
                merged.setdefault("bookmarks", {}).update(value)
            else:
                merged.setdefault(key, value)
    return merged
