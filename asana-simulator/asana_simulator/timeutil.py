"""Millisecond timestamps in Asana's wire formats.

The store keeps every instant as integer milliseconds since the epoch (cheap to
compare and to store for 100k tasks) and dates as integer days since the epoch.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

DAY_MS = 86_400_000


def fmt_ts(ms: int | None) -> str | None:
    if ms is None:
        return None
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem:03d}Z"


def fmt_date(day: int | None) -> str | None:
    if day is None:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def ms_to_day(ms: int) -> int:
    return ms // DAY_MS


# Asana documents only the `...Z` millisecond form; we also accept numeric
# offsets and any number of fractional digits. A missing offset is rejected on
# purpose (see README: stricter than Asana, which probably reads it as UTC).
_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$"
)


def parse_ts_us(value: str) -> int | None:
    """Parse an ISO-8601 instant to integer microseconds since the epoch.

    Returns None when the value is malformed (the caller answers 400).
    """
    m = _TS_RE.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone.utc)
    except ValueError:
        return None
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        off = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if off >= timedelta(hours=24):
            return None
        dt = dt - sign * off
    us = int((dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))
    if frac:
        us += int((frac + "000000")[:6])
    return us


def parse_ts_ms(value: str) -> int | None:
    us = parse_ts_us(value)
    return None if us is None else us // 1000
