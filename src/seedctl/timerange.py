"""Time ranges over a snapshot's rows, as `seedctl query`'s reader and a partial restore take them.

`since` and `until` are both inclusive, as pandas' `df.loc[since:until]` and SQL's BETWEEN
are; a date-only `until` ("2024-06-30") takes in that whole day. Naive bounds are UTC for
timestamptz columns (stored in UTC) and wall-clock time for timestamp columns. Rows whose
time is NULL are in no range. A range prunes a table's files by their period (see
partition.py), then filters the rows of the files it keeps (time_mask).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from seedctl.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The ordinary range of dates, 0001-01-01 .. 9999-12-31, in days since EPOCH, and a day in the
# microseconds that timestamps are stored in (pg/pgtypes.py).
DAYS_MIN, DAYS_MAX = -719162, 2932896
US_PER_DAY = 86_400_000_000

Bound = str | date | datetime | None


@dataclass(frozen=True)
class TimeRange:
    """[lo, hi) in microseconds since 1970-01-01 (UTC or wall clock); None is unbounded."""

    lo: int | None
    hi: int | None

    @property
    def unbounded(self) -> bool:
        return self.lo is None and self.hi is None

    def overlaps(self, start: int, end: int) -> bool:
        """Does [start, end) meet this range?"""
        return (self.lo is None or end > self.lo) and (self.hi is None or start < self.hi)


def time_range(since: Bound, until: Bound) -> TimeRange:
    """[since, until] as microsecond bounds; a date-only until covers its whole day."""
    lo = None if since is None else _micros(_bound(since, "since")[0])
    hi = None
    if until is not None:
        moment, date_only = _bound(until, "until")
        hi = _micros(moment) + (US_PER_DAY if date_only else 1)
    if lo is not None and hi is not None and hi <= lo:
        raise ConfigError(f"since {since} is after until {until}", "swap them")
    return TimeRange(lo, hi)


def _bound(value: str | date | datetime, name: str) -> tuple[datetime, bool]:
    """(the moment, whether only a date was given)."""
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), True
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} {value!r} is not an ISO date or timestamp", "e.g. 2024-01-01 or 2024-01-01T09:30:00+00:00"
        ) from None
    return moment, len(text) <= 10


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _period_span(period: str) -> tuple[int, int] | None:
    """[start, end) of a dated period (2024-03 or 2024) in microseconds; None otherwise."""
    try:
        if len(period) == 7:
            start = datetime.strptime(period, "%Y-%m")
            days = calendar.monthrange(start.year, start.month)[1]
        elif len(period) == 4:
            start = datetime(int(period), 1, 1)
            days = 366 if calendar.isleap(start.year) else 365
        else:
            return None
    except ValueError:
        return None
    # In microseconds, not datetimes: the end of 9999-12 is past datetime.max.
    return _micros(start), _micros(start) + days * US_PER_DAY


def part_needed(period: str | None, window: TimeRange) -> bool:
    """Can a file of this period (see partition.py) hold rows inside the window?"""
    if period is None or window.unbounded:  # one file for the table, or every file wanted
        return True
    if period == "early":  # BC and -infinity
        return window.lo is None
    if period == "late":  # past 9999 and infinity
        return window.hi is None
    if period == "undated":  # NULL times are never inside a range
        return False
    span = _period_span(period)
    return True if span is None else window.overlaps(*span)


def time_mask(column: Any, field: pa.Field, window: TimeRange, table: str) -> Any:
    """Which rows' time lies in the window: on the stored integers, so infinities compare."""
    import pyarrow as pa

    from seedctl import kernels

    if pa.types.is_timestamp(field.type):
        values, unit = kernels.cast(column, pa.int64()), 1
    elif pa.types.is_date(field.type):
        values, unit = kernels.cast(column, pa.int32()), US_PER_DAY
    else:
        raise ConfigError(
            f"the time column {field.name} of {table} is stored as text "
            f"({field.metadata.get(b'pg_type', b'?').decode() if field.metadata else '?'})",
            "read it without since/until and filter its PostgreSQL text yourself",
        )
    keep = None
    if window.lo is not None:  # value * unit >= lo
        keep = kernels.call("greater_equal", values, pa.scalar(-(-window.lo // unit), values.type))
    if window.hi is not None:  # value * unit < hi
        below = kernels.call("less", values, pa.scalar(-(-window.hi // unit), values.type))
        keep = below if keep is None else kernels.call("and", keep, below)
    return keep
