"""The targets the report checks, and how it writes a number, a time or a verdict in a cell."""

from __future__ import annotations

import re
import statistics
from typing import Any

from measure import Series

# Ratios seedctl / PostgreSQL's tool, as (from this many rows up, at most this ratio). The
# snapshot's are issue 13's ("the commands operators run, end to end, at or beyond pg_dump");
# the restore's issue 25's ("ahead of pg_restore at every size": 1.0x at the plan's 91k rows,
# 0.8x at 1M, 0.7x at 10M).
BIG = 10_000_000  # from this size up the 10M targets apply
SNAPSHOT_TARGET = ((0, 1.0), (BIG, 0.6))  # `seedctl snapshot` / `pg_dump -Fc`
RESTORE_TARGET = ((0, 1.0), (1_000_000, 0.8), (BIG, 0.7))  # `seedctl restore` / `pg_restore -Fc`
RSS_LIMIT = 400 * 10**6  # "400 MB" at 10M rows
RSS_FLAT = 1.25  # "not growing with row count": the largest size within 1.25x of the smallest
PLAN_FULL, PLAN_UNCHANGED, PLAN_CLONE = 5.0, 2.0, 4.0  # seconds, plan-sized database
WEEKLY_PUSH = 0.05  # of the full snapshot
LIMITS_HEADING = "Physical limits on this machine"
PLAN_HEADING = "Plan-sized end to end (the three plan tables)"
NOT_MEASURED = "not measured in this run: `make bench-full` measures it"


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def fmt_mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n < 100e6 else f"{n / 1e6:.0f} MB"


def fmt_bytes(n: float) -> str:
    if n < 10_000:
        return f"{n:,.0f} B"
    return fmt_mb(n) if n >= 1e6 else f"{n / 1e3:.1f} kB"


def time_cell(series: Series) -> str:
    return seconds_cell([s.seconds for s in series.samples])


def seconds_cell(seconds: list[float]) -> str:
    """Median, with min–max when there is more than one run."""
    if len(seconds) == 1:
        return fmt_s(seconds[0])
    return f"{fmt_s(statistics.median(seconds))} ({min(seconds):.2f}–{max(seconds):.2f})"


def verdict(value: float, limit: float) -> str:
    """Met or not, and by how much (relative to the limit)."""
    if value <= limit:
        return f"met ({100 * (1 - value / limit):.0f}% under)" if limit else "met"
    return f"**not met**, by {100 * (value / limit - 1):.0f}%" if limit else "**not met**"


def fmt_rows(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n:,}"


def target_for(rows: int, tiers: tuple[tuple[int, float], ...]) -> float:
    """The ratio a size is held to: that of the largest tier it reaches."""
    return [limit for least, limit in tiers if rows >= least][-1]


def anchor(heading: str) -> str:
    """The link GitHub gives a heading."""
    return "#" + re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def breakdown_heading(rows: int) -> str:
    return f"Where the time goes at {fmt_rows(rows)} rows"


def alternative(part: dict[str, Any], prefix: str) -> float | None:
    return next((t for label, t in part["alternatives"] if label.startswith(prefix)), None)


def phase_seconds(part: dict[str, Any], prefix: str) -> float:
    return next(t for label, t in part["phases"] if label.startswith(prefix))
