"""Asana's one timestamp format, in both directions.

Asana writes `2012-02-22T02:06:58.147Z` and documents the same for
`modified_since`. Bookmarks are compared as strings by singer-sdk, so every
value we store or send uses exactly this shape.
"""

from __future__ import annotations

from datetime import datetime, timezone


def to_asana(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
