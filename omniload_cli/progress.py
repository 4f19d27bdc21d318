"""Progress on stderr while a load runs.

Two sources are combined: our own count of RECORD messages (omniload reads
every line the tap writes; per table when a run loads several) and the tap's
``PROGRESS {json}`` stderr lines, which add HTTP requests and rate-limit
waits.  ``log`` prints a timestamped
line every few seconds; ``interactive`` rewrites one line in place, but only
when stderr is a terminal (otherwise it falls back to ``log``, so CI logs and
pipes get plain lines instead of carriage returns).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Protocol


class Counted(Protocol):
    records: int


def _env_interval(default: float) -> float:
    """OMNILOAD_PROGRESS_INTERVAL (seconds); anything but a sane number is ignored."""
    try:
        value = float(os.environ.get("OMNILOAD_PROGRESS_INTERVAL", default))
    except ValueError:
        return default
    return value if 0.05 <= value <= 86400 else default


class Progress:
    def __init__(self, mode: str, label: str, stream=None, interval: float | None = None,
                 tables: Mapping[str, str] | None = None):
        """tables: each staged stream's table name, {stage: table}, in the
        order to show them; with more than one, the line counts each."""
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = "interactive" if (mode == "interactive" and tty) else "log"
        default = 0.5 if self.mode == "interactive" else 5.0
        self.interval = interval if interval is not None else _env_interval(default)
        self.label = label
        self.records = 0
        self.tap: dict[str, dict] = {}   # latest PROGRESS payload per tap stream
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._dirty_line = False
        self.header: str | None = None   # printed with the first progress line
        self.tables = dict(tables or {})
        self._per_stream: Mapping[str, Counted] = {}

    # -- inputs ------------------------------------------------------------
    def record(self, n: int = 1) -> None:
        self.records += n

    def count_per_stream(self, counts: Mapping[str, Counted]) -> None:
        """The relay's own tally, {stream: its count so far}, read (not
        copied) each time the line is drawn: no extra work per record."""
        self._per_stream = counts

    def tap_progress(self, payload: dict) -> None:
        with self._lock:
            self.tap[str(payload.get("stream", "?"))] = payload

    # -- output ------------------------------------------------------------
    def text(self) -> str:
        with self._lock:
            payloads = list(self.tap.values())
        # The tap's figures are its process's totals so far, whichever
        # stream a line names: the newest (largest) is the run's.
        requests = max((int(p.get("requests", 0) or 0) for p in payloads), default=0)
        waits = max((int(p.get("rate_limit_waits", 0) or 0) for p in payloads), default=0)
        wait_s = max((float(p.get("rate_limit_wait_seconds", 0) or 0) for p in payloads), default=0.0)
        elapsed = time.monotonic() - self.started
        parts = [f"{self.label}: {self.records:,} records{self._breakdown()}"]
        if payloads:
            parts.append(f"{requests:,} requests")
            parts.append(f"{waits} rate-limit waits ({wait_s:.1f} s)")
        parts.append(f"{elapsed:.0f} s")
        return ", ".join(parts)

    def _breakdown(self) -> str:
        """' (tasks 1,500, stories 2,968)': the tables that have records so far."""
        if len(self.tables) < 2:
            return ""
        counts = [(name, getattr(self._per_stream.get(stage), "records", 0))
                  for stage, name in self.tables.items()]
        shown = ", ".join(f"{name} {n:,}" for name, n in counts if n)
        return f" ({shown})" if shown else ""

    def emit(self) -> None:
        if self.header:
            # Deferred so that quick runs and quick failures stay quiet: a
            # failure is then exactly one line on stderr.
            self.stream.write(self.header + "\n")
            self.header = None
        if self.mode == "interactive":
            self.stream.write("\r\x1b[K" + self.text())
            self._dirty_line = True
        else:
            self.stream.write(time.strftime("%H:%M:%S") + " progress " + self.text() + "\n")
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.emit()
            except (OSError, ValueError):
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="omniload-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._dirty_line:
            # Leave the terminal on a fresh line for whatever follows.
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._dirty_line = False

    def note(self, message: str) -> None:
        """A one-off line that must not be garbled by the interactive line."""
        prefix = "\r\x1b[K" if self._dirty_line else ""
        self._dirty_line = False
        self.stream.write(prefix + message + "\n")
        self.stream.flush()
