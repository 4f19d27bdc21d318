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
