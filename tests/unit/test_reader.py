"""The reader's pure logic: time bounds, which partition files a range needs, the row filter,
and that `import seedctl` stays light."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from seedctl.errors import SeedctlError
from seedctl.timerange import part_needed as _part_needed
from seedctl.timerange import time_mask as _mask
from seedctl.timerange import time_range

TS = pa.timestamp("us", tz="UTC")


def kept(values: list[object], typ: pa.DataType, since: object, until: object) -> list[object]:
    column = pa.chunked_array([pa.array(values, typ)])
    return column.filter(_mask(column, pa.field("t", typ), time_range(since, until), "t")).to_pylist()


def test_both_ends_inclusive_and_a_date_only_until_takes_the_whole_day() -> None:
    values = [
        datetime(2024, 6, 30, 23, 55, tzinfo=UTC),
        datetime(2024, 7, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    assert kept(values, TS, "2024-01-01", "2024-06-30") == [values[0], values[2]]
    assert kept(values, TS, "2024-01-01", "2024-07-01T00:00:00Z") == values[:3]
    assert kept(values, TS, date(2024, 1, 1), date(2024, 6, 30)) == [values[0], values[2]]


def test_naive_bounds_are_utc_and_aware_ones_are_converted() -> None:
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert kept([noon], TS, "2024-03-01T12:00:00", "2024-03-01T12:00:00") == [noon]
    assert kept([noon], TS, "2024-03-01T07:00:00-05:00", "2024-03-01T07:00:00-05:00") == [noon]
    assert kept([noon], TS, "2024-03-01T12:00:01", None) == []


def test_dates_infinities_and_nulls() -> None:
    days = [date(2024, 1, 1), date(2024, 1, 2), None]
    assert kept(days, pa.date32(), "2024-01-01T06:00:00", "2024-01-02") == [date(2024, 1, 2)]
    assert kept(days, pa.date32(), None, "2024-01-01") == [date(2024, 1, 1)]
    infinities = pa.chunked_array([pa.array([-(2**63), 0, 2**63 - 1], pa.int64()).cast(TS)])
    window = time_range("1970-01-01", None)
    assert infinities.filter(_mask(infinities, pa.field("t", TS), window, "t")).cast(pa.int64()).to_pylist() == [
        0,
        2**63 - 1,
    ]


def test_which_partition_files_a_range_needs() -> None:
    window = time_range("2024-02-15", "2024-03-31")
    needed = [
        p
        for p in ("2024-01", "2024-02", "2024-03", "2024-04", "2023", "2024", "2025", "early", "late", "undated", None)
        if _part_needed(p, window)
    ]
    assert needed == ["2024-02", "2024-03", "2024", None]
    assert _part_needed("early", time_range(None, "2024-01-01")) and not _part_needed(
        "late", time_range(None, "2024-01-01")
    )
    assert _part_needed("late", time_range("2024-01-01", None))
    assert all(_part_needed(p, time_range(None, None)) for p in ("early", "late", "undated", "2024-01"))
    assert _part_needed("9999", time_range("9999-12-31", None))
    # The last month a date can have: its end is past datetime.max (once an OverflowError).
    assert _part_needed("9999-12", time_range("9999-12-31", None))
    assert not _part_needed("9999-11", time_range("9999-12-01", None))


def test_bad_bounds_are_one_line_errors() -> None:
    with pytest.raises(SeedctlError, match="not an ISO date"):
        time_range("last tuesday", None)
    with pytest.raises(SeedctlError, match="after until"):
        time_range("2024-02-01", "2024-01-01")


def test_import_seedctl_is_light_and_open_snapshot_is_exported() -> None:
    code = (
        "import sys, seedctl; heavy = [m for m in ('seedctl.read.reader', 'pyarrow', 'dvc', 'duckdb') "
        "if m in sys.modules]; assert not heavy, heavy; "
        "from seedctl import open_snapshot; assert open_snapshot.__module__ == 'seedctl.read.reader'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
