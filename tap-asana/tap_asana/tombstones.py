"""What a row Asana no longer has looks like in a table with hard deletes:
its key and `_sdc_deleted_at` (streams/base.py declares the property), which
the target turns into a delete."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from tap_asana import timestamps


def task_tombstone(gid: str) -> dict:
    """A task or subtask removed."""
    # modified_at too: the SDK reads the replication key of every record
    # (the bookmark never passes the run's watermark whatever it says).
    now = timestamps.to_asana(datetime.now(timezone.utc))
    return {"gid": gid, "modified_at": now, "_sdc_deleted_at": now}


def story_tombstones(task_gid: str, story_gids: Iterable[str]) -> Iterator[dict]:
    """Stories removed (deleted, or their task gone), with the task they were on."""
    deleted_at = timestamps.to_asana(datetime.now(timezone.utc))
    for gid in sorted(story_gids):
        yield {"gid": gid, "task_gid": task_gid, "_sdc_deleted_at": deleted_at}
