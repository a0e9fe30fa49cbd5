"""Rows per month (manifest coverage) computed by flooring, against formatting every value."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from seedctl.manifest import month_counts


def _by_formatting(values: pa.Array) -> dict[str, int]:
    """The previous way: format every non-null value as YYYY-MM and count."""
    return dict(Counter(v for v in pc.strftime(values, format="%Y-%m").to_pylist() if v is not None))


@pytest.mark.parametrize(
    "values",
    [
        pa.array([date(2020, 1, 31), date(2020, 2, 1), None, date(1969, 12, 31), date(1, 1, 1),
                  date(9999, 12, 31), date(2020, 1, 1)], pa.date32()),
        pa.array([datetime(2024, 2, 29, 23, 59, 59, 999999), datetime(2024, 3, 1), None,
                  datetime(1969, 12, 31, 23, 59), datetime(1970, 1, 1)], pa.timestamp("us")),
        pa.array([datetime(2024, 1, 31, 23, 30, tzinfo=UTC), datetime(2024, 2, 1, 0, 0, tzinfo=UTC), None],
                 pa.timestamp("us", tz="UTC")),
        pa.array([], pa.timestamp("us", tz="UTC")),
        pa.array([None, None], pa.date32()),
    ],
    ids=["date", "timestamp", "timestamptz", "empty", "all-null"],
)
def test_month_counts_match_formatting_every_value(values: pa.Array) -> None:
    assert month_counts(values) == _by_formatting(values)


def test_month_counts_counts_rows_per_month() -> None:
    values = pa.array([datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 31)] + [datetime(2024, 2, 1, tzinfo=UTC)],
                      pa.timestamp("us", tz="UTC"))
    assert month_counts(values) == {"2024-01": 3, "2024-02": 1}
