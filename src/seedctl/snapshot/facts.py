"""Facts about a table's rows, computed once, while the export writes them.

The manifest's date range and rows per month, and the row checks validation reports
(primary-key duplicates, OHLCV bars out of their domain), used to be found by decoding
every file again in the manifest and validate stages. The export already holds each batch
in memory: it measures them there, on the values as stored (exactly what the files hold).
A file's time profile goes into its own Parquet footer (TIME_FACTS_KEY), a table's row
checks into schema.json. The later stages read them there, and the manifest checks each
profile against the footer's statistics (the time column's min and max).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from seedctl.timerange import DAYS_MAX, DAYS_MIN, US_PER_DAY

# The key of a data file's footer metadata holding its TimeProfile (JSON).
TIME_FACTS_KEY = "seedctl.time"


def is_dated(field: pa.Field) -> bool:
    """A time column stored as dates or timestamps (not as text: other eras, infinities)."""
    return pa.types.is_timestamp(field.type) or pa.types.is_date(field.type)


def epoch_ints(values: pa.Array) -> pa.Array:
    """Dates as days, timestamps as microseconds since 1970 (the Parquet physical values)."""
    return values.cast(pa.int64() if pa.types.is_timestamp(values.type) else pa.int32())


class TimeProfile:
    """One data file's time column: min and max (epoch_ints) and rows per calendar month.

    Month buckets cover the ordinary range (years 1-9999): infinities and far eras count in
    min and max only."""

    def __init__(self, field: pa.Field) -> None:
        unit = US_PER_DAY if pa.types.is_timestamp(field.type) else 1
        self._floor, self._ceiling = DAYS_MIN * unit, (DAYS_MAX + 1) * unit
        self.lo: int | None = None
        self.hi: int | None = None
        self.months: Counter[str] = Counter()

    def add(self, values: pa.Array) -> None:
        ints = epoch_ints(values)
        bounds = pc.min_max(ints)
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        if lo is None:
            return
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        if not (self._floor <= lo and hi < self._ceiling):  # filter only the batches that need it
            values = pc.filter(values, pc.and_(pc.greater_equal(ints, self._floor), pc.less(ints, self._ceiling)))
        self.months.update(month_counts(values))

    def to_dict(self) -> dict[str, Any]:
        return {"min": self.lo, "max": self.hi, "rows_per_month": dict(sorted(self.months.items()))}


def month_counts(values: pa.Array) -> dict[str, int]:
    """Rows per calendar month ("YYYY-MM") of date/timestamp values (UTC), nulls left out.

    Values are floored to their month and counted, and only the distinct months are
    formatted: ten times faster than formatting every value."""
    counts = pc.value_counts(pc.floor_temporal(values, unit="month"))
    keys = pc.strftime(counts.field("values"), format="%Y-%m").to_pylist()
    return {k: n for k, n in zip(keys, counts.field("counts").to_pylist()) if k is not None}


class RowChecks:
    """Primary-key duplicates and OHLCV domain violations over a table's batches, in
    primary-key order (a duplicate key sits next to its twin, across batches too)."""

    def __init__(self, primary_key: list[str], prices: list[str] | None) -> None:
        self.primary_key, self.prices = primary_key, prices
        self.pk_duplicates = self.ohlcv_violations = 0
        self.ohlcv_first: str | None = None
        self._last_key: list[Any] | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.primary_key:
            keys = [batch.column(c) for c in self.primary_key]
            same = _all_equal([k.slice(1) for k in keys], [k.slice(0, len(k) - 1) for k in keys])
            self.pk_duplicates += pc.sum(same).as_py() or 0
            # Arrow scalars, not Python values: a date key of 'infinity' has no Python date.
            if self._last_key is not None and [k[0] for k in keys] == self._last_key:
                self.pk_duplicates += 1
            self._last_key = [k[-1] for k in keys]
        if self.prices:
            op, hi, lo, cl = (batch.column(c) for c in self.prices)
            ok = pc.and_(
                pc.and_(
                    pc.greater_equal(hi, pc.max_element_wise(op, cl)), pc.less_equal(lo, pc.min_element_wise(op, cl))
                ),
                pc.and_(pc.greater(lo, pa.scalar(0, lo.type)), pc.greater(op, pa.scalar(0, op.type))),
            )
            bad = pc.invert(pc.fill_null(ok, False))
            count = pc.sum(bad).as_py() or 0
            if count and self.ohlcv_first is None:
                row = (
                    batch.select(list(dict.fromkeys([*self.primary_key, *self.prices])))
                    .filter(bad)
                    .slice(0, 1)
                    .to_pylist()[0]
                )
                self.ohlcv_first = ", ".join(f"{k}={v}" for k, v in row.items())
            self.ohlcv_violations += count

    def to_dict(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        if self.primary_key:
            checks["pk_duplicates"] = self.pk_duplicates
        if self.prices:
            checks["ohlcv_violations"] = self.ohlcv_violations
            checks["ohlcv_first"] = self.ohlcv_first
        return checks


def _all_equal(left: list[pa.Array], right: list[pa.Array]) -> pa.Array:
    result = None
    for a, b in zip(left, right):
        eq = pc.fill_null(pc.equal(a, b), False)
        result = eq if result is None else pc.and_(result, eq)
    return result if result is not None else pa.array([], pa.bool_())
