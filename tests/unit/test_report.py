"""Coverage file and HTML report: exact, deterministic, self-contained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedctl.snapshot.coverage import coverage_csv, coverage_series, month_span, render_html, write_coverage


def manifest(**tables: dict[str, int]) -> dict[str, Any]:
    return {
        "version": "2026.01.18-abcdef12",
        "created_at": "2026-01-18T02:00:00Z",
        "created_by": "seedctl test",
        "compatibility": {"postgres_version": "15.18"},
        "tables": {
            name: {
                "table": f"public.{name}",
                "rows": sum(per_month.values()),
                "size_bytes": 1234,
                "sha256": "0" * 64,
                "date_range": None,
                "rows_per_month": per_month,
            }
            for name, per_month in tables.items()
        },
    }


def test_month_span_crosses_years() -> None:
    assert month_span("2019-11", "2020-02") == ["2019-11", "2019-12", "2020-01", "2020-02"]
    assert month_span("2020-05", "2020-05") == ["2020-05"]


def test_coverage_is_long_format_sorted_with_gaps_as_zero() -> None:
    m = manifest(prices={"2020-03": 5, "2020-01": 7}, macro={"2019-12": 1}, trades={})
    assert coverage_csv(m) == (
        "month,table,rows\n2019-12,macro,1\n2020-01,prices,7\n2020-02,prices,0\n2020-03,prices,5\n"
    )
    assert list(coverage_series(m)) == ["macro", "prices"]  # a table without a time profile has no series


def test_write_coverage_leaves_an_unchanged_file_alone(tmp_path: Path) -> None:
    m = manifest(prices={"2020-01": 7})
    path = write_coverage(tmp_path, m)
    assert path == tmp_path / "reports" / "coverage.csv"
    before = path.stat().st_mtime_ns
    write_coverage(tmp_path, m)
    assert path.stat().st_mtime_ns == before
    write_coverage(tmp_path, manifest(prices={"2020-01": 8}))
    assert path.read_text().endswith("2020-01,prices,8\n")


def test_html_has_one_series_per_table_gaps_marked_and_nothing_external() -> None:
    page = render_html(manifest(prices={"2020-01": 7, "2020-04": 2}, macro={"1999-01": 3}, odd={"2020-01": 1}))
    for name, rows, months in (("prices", 9, 4), ("macro", 3, 1), ("odd", 1, 1)):
        assert f'<path class="series" data-table="{name}" data-months="{months}" data-rows="{rows}"' in page
    assert page.count('class="gap"') == 2
    assert 'data-month="2020-02"' in page and 'data-month="2020-03"' in page
    assert "http://" not in page and "https://" not in page and "src=" not in page


def test_html_escapes_names() -> None:
    m = manifest(prices={"2020-01": 1})
    m["tables"]["prices"]["table"] = "public.<b>&x"
    m["created_by"] = '"><script>alert(1)</script>'
    page = render_html(m)
    assert "<b>&x" not in page and "public.&lt;b&gt;&amp;x" in page
    assert "<script>alert(1)" not in page
