"""The pure parts of reusing unchanged periods: period arithmetic and the reuse conditions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from seedctl import __version__
from seedctl.config import parse_params
from seedctl.layout import SNAPSHOT_FORMAT
from seedctl.pg.checksum import Checksum, PeriodSums, total
from seedctl.snapshot.partition import period_name, period_number, period_ranges
from seedctl.snapshot.reuse import load_previous, unchanged, writer_settings
from seedctl.snapshot.sums import first_half


@pytest.mark.parametrize(
    ("name", "granularity"),
    [("2024-03", "month"), ("0001-01", "month"), ("9999-12", "month"), ("2024", "year"), ("0001", "year")],
)
def test_period_number_inverts_period_name(name: str, granularity: str) -> None:
    assert period_name(period_number(name, granularity), granularity) == name  # type: ignore[arg-type]


def test_special_periods_sort_around_the_dated_ones() -> None:
    names = ["late", "2024-01", "early", "undated", "1999-12"]
    assert sorted(names, key=lambda n: period_number(n, "month")) == ["early", "1999-12", "2024-01", "late", "undated"]


def test_period_ranges_merge_adjacent_periods_and_leave_the_ends_open() -> None:
    assert period_ranges(["2024-03", "2024-01", "2024-02", "2024-06"], "month") == [
        ("2024-01-01", "2024-04-01"),
        ("2024-06-01", "2024-07-01"),
    ]
    assert period_ranges(["early", "0001-01", "9999-12", "late"], "month") == [
        (None, "0001-02-01"),
        ("9999-12-01", None),
    ]
    assert period_ranges(["2023", "2024", "1999"], "year") == [
        ("1999-01-01", "2000-01-01"),
        ("2023-01-01", "2025-01-01"),
    ]
    assert period_ranges(["9999"], "year") == [("9999-01-01", "10000-01-01")]


def test_unchanged_needs_the_same_rows_and_fingerprint() -> None:
    parts = [
        {"file": "data/t/2024-01.parquet", "rows": 10, "period": "2024-01", "fingerprint": "11"},
        {"file": "data/t/2024-02.parquet", "rows": 10, "period": "2024-02", "fingerprint": "22"},
        {"file": "data/t/2024-03.parquet", "rows": 10, "period": "2024-03", "fingerprint": "33"},
        {"file": "data/t/2024-04.parquet", "rows": 10, "period": "2024-04", "fingerprint": "44"},
    ]
    now = {
        "2024-01": PeriodSums(10, "5", "11"),  # same
        "2024-02": PeriodSums(10, "5", "23"),  # an UPDATE
        "2024-03": PeriodSums(9, "5", "33"),  # fewer rows, same sum: never trusted
    }  # 2024-04: gone
    assert [p["period"] for p in unchanged(parts, now)] == ["2024-01"]


def test_the_table_checksum_is_the_sum_of_its_periods() -> None:
    sums = {"2024-01": PeriodSums(2, "-7", "1"), "2024-02": PeriodSums(3, "10", "2")}
    assert total(sums) == Checksum(5, "3")
    assert total({}) == Checksum(0, "0")


def _previous(seeds: Path, **changes: object) -> None:
    backup = parse_params({"sources": {"t": {"table": "t"}}}).backup
    schema = {"snapshot_format": SNAPSHOT_FORMAT, "writer": writer_settings(backup), "tables": {}}
    schema.update({k: v for k, v in changes.items() if k in schema})
    seeds.mkdir(parents=True, exist_ok=True)
    (seeds / "schema.json").write_text(json.dumps(schema))
    manifest = {
        "schema_sha256": hashlib.sha256((seeds / "schema.json").read_bytes()).hexdigest(),
        "compatibility": {"seedctl_version": __version__, "pyarrow_version": pa.__version__},
        "tables": {},
    }
    manifest.update({k: v for k, v in changes.items() if k in manifest})
    manifest["compatibility"].update({k: v for k, v in changes.items() if k.endswith("_version")})
    (seeds / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        {"snapshot_format": SNAPSHOT_FORMAT - 1},
        {"writer": {"compression": "snappy"}},
        {"schema_sha256": "0" * 64},
        {"seedctl_version": "0.0.1"},
        {"pyarrow_version": "1.0.0"},
    ],
)
def test_a_previous_snapshot_not_made_the_same_way_is_never_reused(tmp_path: Path, change: dict[str, object]) -> None:
    backup = parse_params({"sources": {"t": {"table": "t"}}}).backup
    _previous(tmp_path / "same")
    assert load_previous(tmp_path / "same", backup) is not None
    _previous(tmp_path / "other", **change)
    assert load_previous(tmp_path / "other", backup) is None
    assert load_previous(tmp_path / "absent", backup) is None


def _parts(rows: dict[str, int]) -> list[dict[str, object]]:
    return [{"period": period, "rows": n} for period, n in rows.items()]


def test_first_half_takes_the_periods_up_to_half_the_rows_in_time_order() -> None:
    # Given out of order: the split is by time, so each connection reads a contiguous range.
    parts = _parts({"2024-03": 10, "2024-01": 10, "2024-04": 10, "2024-02": 10, "undated": 1})
    assert first_half(parts, "month") == ["2024-01", "2024-02"]  # 20 of 41 rows: nearest to half
    assert first_half(_parts({"2023": 1, "2024": 100}), "year") == ["2023"]
    assert first_half(_parts({"2023": 100, "2024": 1}), "year") == ["2023"]


def test_first_half_is_empty_when_there_is_nothing_to_split() -> None:
    assert first_half([], "month") == []
    assert first_half(_parts({"2024-01": 5}), "month") == []
    assert first_half(_parts({"2024-01": 0, "2024-02": 0}), "month") == []
