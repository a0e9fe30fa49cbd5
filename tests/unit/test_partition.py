"""Period numbers and runs: the pure part of splitting a table into monthly/yearly files."""

from __future__ import annotations

import pyarrow as pa
import pytest

from seedctl.parts import snapshot_parts, table_parts
from seedctl.snapshot.partition import EARLY, LATE, UNDATED, period_name, period_numbers, runs

DAY_US = 86_400_000_000


def names(values: pa.Array, encoding: str, granularity: str) -> list[str]:
    return [period_name(p, granularity) for p in period_numbers(values, encoding, granularity).to_pylist()]


def test_dates_by_month_including_sentinels_eras_and_nulls() -> None:
    days = pa.array([-(2**31), -719163, -719162, 0, 31, 2932896, 2932897, 2**31 - 1, None], pa.int32())
    assert names(days, "epoch_days", "month") == [
        "early",
        "early",
        "0001-01",
        "1970-01",
        "1970-02",
        "9999-12",
        "late",
        "late",
        "undated",
    ]


def test_timestamps_by_year_and_by_month() -> None:
    us = pa.array([-(2**63), -1, 0, 59 * DAY_US, 2**63 - 1, None], pa.int64())
    assert names(us, "epoch_us", "year") == ["early", "1969", "1970", "1970", "late", "undated"]
    assert names(us, "epoch_us", "month") == ["early", "1969-12", "1970-01", "1970-03", "late", "undated"]


def test_text_timestamps_past_year_294246() -> None:
    text = pa.array(
        [
            "0044-03-15 12:00:00+00 BC",
            "-infinity",
            "2020-01-02 13:00:00+00",
            "9999-12-31 23:59:59+00",
            "294276-12-31 23:59:59.999999+00",
            "infinity",
            None,
        ]
    )
    assert names(text, "text", "month") == ["early", "early", "2020-01", "9999-12", "late", "late", "undated"]
    assert names(text, "text", "year") == ["early", "early", "2020", "9999", "late", "late", "undated"]


def test_period_numbers_sort_like_the_rows() -> None:
    days = pa.array([-(2**31), -719162, 0, 2932896, 2**31 - 1, None], pa.int32())
    numbers = period_numbers(days, "epoch_days", "month").to_pylist()
    assert numbers == sorted(numbers)
    assert numbers[0] == EARLY and numbers[-2] == LATE and numbers[-1] == UNDATED


def test_runs_cut_where_the_period_changes() -> None:
    assert list(runs(pa.array([5, 5, 6, 9, 9, 9], pa.int32()))) == [(5, 0, 2), (6, 2, 1), (9, 3, 3)]
    assert list(runs(pa.array([7], pa.int32()))) == [(7, 0, 1)]
    assert list(runs(pa.array([], pa.int32()))) == []


@pytest.mark.parametrize("period, granularity, name", [(2024 * 12 + 2, "month", "2024-03"), (812, "year", "0812")])
def test_period_names(period: int, granularity: str, name: str) -> None:
    assert period_name(period, granularity) == name


def test_table_parts_reads_both_manifest_formats() -> None:
    old = {"file": "data/t.parquet", "rows": 3, "size_bytes": 10, "sha256": "s", "md5": "m", "schema": {}}
    new = {
        "rows": 3,
        "parts": [
            {"file": "data/u/2024.parquet", "rows": 1, "md5": "a"},
            {"file": "data/u/2025.parquet", "rows": 2, "md5": "b"},
        ],
    }
    assert table_parts(old) == [{"file": "data/t.parquet", "rows": 3, "size_bytes": 10, "sha256": "s", "md5": "m"}]
    assert [p["file"] for p in snapshot_parts({"tables": {"t": old, "u": new}})] == [
        "data/t.parquet",
        "data/u/2024.parquet",
        "data/u/2025.parquet",
    ]
