"""Splitting a table's rows into one file per month or year of its time column.

A weekly snapshot of a time series then rewrites only the newest file or two: every other
file keeps its bytes, and DVC (content addressing) neither stores nor uploads it again.

The export reads rows in primary-key order and the key must start with the time column
(checked before the export), so the rows of each period arrive together and periods
arrive in order. Each batch is cut where the period changes; the cut points come from
Arrow compute on the batch's time column, in the form the export parses it:

    epoch_days  date as days since 1970-01-01 (int32, PostgreSQL's sentinels for +-infinity)
    epoch_us    timestamp(tz) as microseconds since 1970 (int64, sentinels likewise)
    text        PostgreSQL's own text output (a column holding years past 294246)

Periods are named `2024-03` (month) or `2024` (year). Values outside years 1..9999 go to
`early` (BC, -infinity) or `late` (past 9999, infinity), NULL to `undated`: each is one
more file, in that order after the dated ones (rows are sorted NULLS LAST, infinities at
the ends).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from seedctl.config import Partition
from seedctl.timerange import DAYS_MAX, DAYS_MIN, US_PER_DAY

if TYPE_CHECKING:
    from seedctl.pg.catalog import Column

# Period numbers: dated periods are year * 12 + month - 1 (month) or the year (year),
# always between these two, so the numbers sort like the rows do.
EARLY = -1
LATE = 10**6
UNDATED = 10**6 + 1
_NAMES = {EARLY: "early", LATE: "late", UNDATED: "undated"}
_NUMBERS = {name: number for number, name in _NAMES.items()}
UNDATED_NAME = _NAMES[UNDATED]

# The ordinary range 0001-01-01 .. 9999-12-31 in each epoch encoding.
_RANGES = {
    "epoch_days": (DAYS_MIN, DAYS_MAX, pa.date32()),
    "epoch_us": (DAYS_MIN * US_PER_DAY, (DAYS_MAX + 1) * US_PER_DAY - 1, pa.timestamp("us")),
}


def period_numbers(values: pa.Array, encoding: str, granularity: Partition) -> pa.Array:
    """The period number (int32) of every value of a time column batch."""
    if encoding == "text":
        return _text_periods(values, granularity)
    if pa.types.is_temporal(values.type):  # parsed from ISO text: the same epoch numbers
        values = values.cast(pa.int32() if pa.types.is_date(values.type) else pa.int64())
    lo, hi, temporal = _RANGES[encoding]
    ordinary = pc.and_(pc.greater_equal(values, lo), pc.less_equal(values, hi))
    dates = pc.if_else(ordinary, values, pa.scalar(0, values.type)).cast(temporal)
    dated = _dated(pc.year(dates), pc.month(dates), granularity)
    special = pc.if_else(pc.less(values, lo), pa.scalar(EARLY, pa.int32()), pa.scalar(LATE, pa.int32()))
    return pc.fill_null(pc.if_else(ordinary, dated, special), UNDATED)


def _text_periods(values: pa.Array, granularity: Partition) -> pa.Array:
    # "2024-03-01 ..." is dated; "-infinity" and "... BC" are early; 5+ digit years and
    # "infinity" are late.
    parts = pc.extract_regex(values, r"^(?P<y>\d{4})-(?P<m>\d{2})-")
    bc = pc.or_(pc.equal(values, "-infinity"), pc.ends_with(values, " BC"))
    matched = pc.and_(pc.is_valid(parts), pc.invert(bc))
    years = pc.cast(pc.if_else(matched, pc.struct_field(parts, "y"), "1970"), pa.int64())
    months = pc.cast(pc.if_else(matched, pc.struct_field(parts, "m"), "01"), pa.int64())
    dated = _dated(years, months, granularity)
    special = pc.if_else(bc, pa.scalar(EARLY, pa.int32()), pa.scalar(LATE, pa.int32()))
    return pc.fill_null(pc.if_else(matched, dated, special), UNDATED)


def _dated(years: pa.Array, months: pa.Array, granularity: Partition) -> pa.Array:
    if granularity == "year":
        return pc.cast(years, pa.int32())
    return pc.cast(pc.add(pc.multiply(years, 12), pc.subtract(months, 1)), pa.int32())


def runs(periods: pa.Array) -> Iterator[tuple[int, int, int]]:
    """(period, offset, length) of each stretch of equal period numbers, in order."""
    n = len(periods)
    if n == 0:
        return
    changes = pc.indices_nonzero(pc.not_equal(periods.slice(1), periods.slice(0, n - 1)))
    starts = [0, *(i + 1 for i in changes.to_pylist()), n]
    for start, end in zip(starts, starts[1:]):
        yield periods[start].as_py(), start, end - start


def period_name(period: int, granularity: Partition) -> str:
    """File stem of a period: 2024-03, 2024, early, late or undated."""
    if period in _NAMES:
        return _NAMES[period]
    if granularity == "year":
        return f"{period:04d}"
    year, month = divmod(period, 12)
    return f"{year:04d}-{month + 1:02d}"


def period_number(name: str, granularity: Partition) -> int:
    """The number of a period named by period_name (its sort key)."""
    if name in _NUMBERS:
        return _NUMBERS[name]
    if granularity == "year":
        return int(name)
    year, month = name.split("-")
    return int(year) * 12 + int(month) - 1


def period_ranges(names: list[str], granularity: Partition) -> list[tuple[str | None, str | None]]:
    """The time ranges [from, to) covering these periods (not `undated`), as first days
    ("2024-03-01"; None: unbounded), adjacent periods merged into one range."""
    ranges: list[tuple[str | None, str | None]] = []
    for number in sorted(period_number(n, granularity) for n in names):
        if number == EARLY:
            lo, hi = None, _YEAR_ONE
        elif number == LATE:
            lo, hi = _YEAR_10000, None
        else:
            lo, hi = _first_day(number, granularity), _first_day(number + 1, granularity)
        if ranges and ranges[-1][1] is not None and ranges[-1][1] == lo:
            lo = ranges.pop()[0]
        ranges.append((lo, hi))
    return ranges


_YEAR_ONE, _YEAR_10000 = "0001-01-01", "10000-01-01"


def _first_day(number: int, granularity: Partition) -> str:
    """The first day of a dated period (year 10000 after December 9999)."""
    if granularity == "year":
        return f"{number:04d}-01-01"
    year, month = divmod(number, 12)
    return f"{year:04d}-{month + 1:02d}-01"


def periods_filter(column: Column, granularity: Partition, periods: list[str]) -> sql.Composable:
    """The rows of these periods of the time column: key ranges, so the primary key's index
    (it starts with the time column) finds them."""
    t = sql.Identifier(column.name)
    zone = " 00:00+00" if column.base_type == "timestamptz" else " 00:00" if column.base_type == "timestamp" else ""

    def moment(day: str) -> sql.Composable:
        return sql.SQL("{}::pg_catalog.{}").format(sql.Literal(day + zone), sql.SQL(column.base_type))

    conditions = [sql.SQL("{} IS NULL").format(t)] if UNDATED_NAME in periods else []
    for lo, hi in period_ranges([p for p in periods if p != UNDATED_NAME], granularity):
        if lo is None:
            conditions.append(sql.SQL("{} < {}").format(t, moment(hi or "")))
        elif hi is None:
            conditions.append(sql.SQL("{} >= {}").format(t, moment(lo)))
        else:
            conditions.append(sql.SQL("({} >= {} AND {} < {})").format(t, moment(lo), t, moment(hi)))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(conditions))
