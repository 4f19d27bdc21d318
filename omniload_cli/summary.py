"""The closing summary of a run (stdout: it is the result, progress is stderr)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TableSummary:
    source: str            # token-free, e.g. asana://123 / tasks
    destination: str       # e.g. duckdb://./work.db -> public.tasks
    strategy: str          # human description of what was done
    rows_loaded: int
    rows_in_table: int
    bookmark: str | None = None
    rows_removed: int = 0  # by merge: rows Asana no longer has

    def lines(self) -> list[str]:
        out = [
            f"source:        {self.source}",
            f"destination:   {self.destination}",
            f"strategy:      {self.strategy}",
            f"rows loaded:   {self.rows_loaded:,}",
        ]
        if self.rows_removed:
            out.append(f"rows removed:  {self.rows_removed:,}")
        out.append(f"rows in table: {self.rows_in_table:,}")
        if self.bookmark:
            out.append(f"bookmark:      {self.bookmark}")
        return out


@dataclass
class Summary:
    tables: list[TableSummary]
    duration_s: float

    def lines(self) -> list[str]:
        out: list[str] = []
        for table in self.tables:
            if out:
                out.append("")
            out += table.lines()
        out.append(f"duration:      {self.duration_s:.1f} s")
        return out

    def render(self) -> str:
        return "\n".join(self.lines()) + "\n"
