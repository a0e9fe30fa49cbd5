"""Rows per month (manifest coverage) computed by flooring, against formatting every value."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from seedctl.snapshot.facts import month_counts


def _by_formatting(values: pa.Array) -> dict[str, int]:
    """The previous way: format every non-null value as YYYY-MM and count."""
    return dict(Counter(v for v in pc.strftime(values, format="%Y-%m").to_pylist() if v is not None))


@pytest.mark.parametrize(
    "values",
    [
        pa.array(
            [
                date(2020, 1, 31),
                date(2020, 2, 1),
                None,
                date(1969, 12, 31),
                date(1, 1, 1),
                date(9999, 12, 31),
                date(2020, 1, 1),
            ],
            pa.date32(),
        ),
        pa.array(
            [
                datetime(2024, 2, 29, 23, 59, 59, 999999),
                datetime(2024, 3, 1),
                None,
                datetime(1969, 12, 31, 23, 59),
                datetime(1970, 1, 1),
            ],
            pa.timestamp("us"),
        ),
        pa.array(
            [datetime(2024, 1, 31, 23, 30, tzinfo=UTC), datetime(2024, 2, 1, 0, 0, tzinfo=UTC), None],
            pa.timestamp("us", tz="UTC"),
        ),
        pa.array([], pa.timestamp("us", tz="UTC")),
        pa.array([None, None], pa.date32()),
    ],
    ids=["date", "timestamp", "timestamptz", "empty", "all-null"],
)
def test_month_counts_match_formatting_every_value(values: pa.Array) -> None:
    assert month_counts(values) == _by_formatting(values)


def test_month_counts_counts_rows_per_month() -> None:
    values = pa.array(
        [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 31)] + [datetime(2024, 2, 1, tzinfo=UTC)],
        pa.timestamp("us", tz="UTC"),
    )
    assert month_counts(values) == {"2024-01": 3, "2024-02": 1}


def test_time_profile_leaves_infinities_and_far_eras_out_of_the_months(tmp_path: Path) -> None:
    """Batches holding -infinity/infinity or years outside 1..9999 are filtered, the others counted
    whole; the range still spans every value, and equals the Parquet footer's (what the manifest checks)."""
    import pyarrow.parquet as pq

    from seedctl.pg.pgtypes import TS_NEG_INF, TS_POS_INF
    from seedctl.snapshot.facts import TimeProfile
    from seedctl.snapshot.manifest import footer_range

    jan, feb = 1_704_067_200_000_000, 1_706_745_600_000_000  # 2024-01-01, 2024-02-01 (us)
    bc = -62_198_755_200_000_000  # 0001-01-01 minus one year: a BC timestamp
    values = [jan, jan + 1, feb, TS_POS_INF, jan + 2, TS_NEG_INF, bc, None, feb + 1]
    field = pa.field("time", pa.timestamp("us", tz="UTC"))
    column = pa.array(values, field.type)
    profile = TimeProfile(field)
    for start in range(0, len(values), 3):  # three batches, as the export's
        profile.add(column.slice(start, 3))
    recorded = profile.to_dict()
    assert recorded["rows_per_month"] == {"2024-01": 3, "2024-02": 2}
    assert (recorded["min"], recorded["max"]) == (TS_NEG_INF, TS_POS_INF)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"time": column}), path, row_group_size=3)
    assert footer_range(pq.ParquetFile(path), "time") == (TS_NEG_INF, TS_POS_INF)
