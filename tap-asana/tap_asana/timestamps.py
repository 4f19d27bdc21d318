"""Asana's one timestamp format, in both directions.

Asana writes `2012-02-22T02:06:58.147Z` and documents the same for
`modified_since`. Bookmarks are compared as strings by singer-sdk, so every
value we store or send uses exactly this shape.
"""

from __future__ import annotations

from datetime import datetime, timezone


def to_asana(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    # strftime's %Y does not pad years before 1000 on every platform, and
    # Asana refuses "1-01-01T…": spell every field out.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
