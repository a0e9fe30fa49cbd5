"""The history check: compares only what both snapshots measured; accepted months pass."""

from __future__ import annotations

from typing import Any

from seedctl.snapshot.history import acceptance, shrunk_months
from seedctl.snapshot.validate import TableReport, _check_history


def entry(column: str | None, months: dict[str, int], note: str | None = None) -> dict[str, Any]:
    date_range = None if column is None else {"column": column, "min": "2020-01-01", "max": "2020-03-31"}
    if note:
        date_range = {"column": column, "min": None, "max": None, "note": note}
    return {"date_range": date_range, "rows_per_month": months}


BEFORE = entry("time", {"2020-01": 1320, "2020-02": 1320, "2020-03": 1320})


def check(now: dict[str, Any], *, accepted: dict[str, dict[str, int]] | None = None) -> TableReport:
    report = TableReport("prices")
    _check_history(report, now, BEFORE, False, accepted or {})
    return report


def test_a_lost_month_fails_and_names_the_accept_command() -> None:
    report = check(entry("time", {"2020-01": 1320, "2020-02": 0, "2020-03": 1320}))
    assert report.failures == [
        "table prices: history: 1 past month(s) lost rows versus the previous snapshot, "
        "first 2020-02: 1320 -> 0 (if intended, accept it once: "
        "seedctl snapshot --allow-shrink)"
    ]


def test_a_removed_time_column_skips_the_check_with_a_note() -> None:
    report = check(entry(None, {}))
    assert report.failures == []
    assert "counted rows per month on 'time', this one on no time column" in report.metrics["history"]


def test_a_changed_time_column_skips_the_check_with_a_note() -> None:
    report = check(entry("created_at", {"2020-01": 5}))
    assert report.failures == []
    assert "on 'time', this one on 'created_at'" in report.metrics["history"]


def test_a_time_column_now_stored_as_text_skips_the_check() -> None:
    assert check(entry("time", {}, note="stored as text")).failures == []


def test_same_column_emptied_is_still_lost_history() -> None:
    emptied = {"date_range": {"column": "time", "min": None, "max": None}, "rows_per_month": {}}
    assert len(check(emptied).failures) == 1
    assert shrunk_months(emptied, BEFORE) == {m: {"before": 1320, "after": 0} for m in BEFORE["rows_per_month"]}


def test_only_the_accepted_months_pass() -> None:
    now = entry("time", {"2020-01": 1000, "2020-02": 0, "2020-03": 1320})
    accepted = {"2020-01": {"before": 1320, "after": 1000}}
    report = check(now, accepted=accepted)
    assert len(report.failures) == 1 and "first 2020-02: 1320 -> 0" in report.failures[0]
    assert check(now, accepted={**accepted, "2020-02": {"before": 1320, "after": 0}}).failures == []


def test_acceptance_records_tables_months_who() -> None:
    previous = {"version": "v1", "tables": {"prices": BEFORE, "other": BEFORE}}
    tables = {"prices": entry("time", {"2020-01": 1320, "2020-02": 7, "2020-03": 1320}), "other": BEFORE}
    assert acceptance(tables, previous, None) is None
    record = acceptance(tables, previous, "ops@db1")
    assert record is not None
    assert record["by"] == "ops@db1" and record["versus"] == "v1" and record["at"].endswith("Z")
    assert record["tables"] == {"prices": {"2020-02": {"before": 1320, "after": 7}}}
    assert acceptance({"prices": BEFORE, "other": BEFORE}, previous, "ops@db1") is None
