"""Validate: a snapshot that fails any check is never pushed and never becomes latest.

Checks per source (each can be switched off in params `validation`): files match the
manifest, row count >= min_rows, date range present and plausible, null ratio per column,
primary-key uniqueness, OHLCV price-bar domain, and no past month shrinking versus the
previous snapshot (the manifest at git HEAD; see history.py). Results go to seeds/reports/validation.json
(DVC metrics); LATEST_VERSION is written only when every check passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from seedctl.config import Params, Source, Validation
from seedctl.errors import ValidationFailed
from seedctl.layout import (
    LATEST_FILE,
    REPORT_FILE,
    SCHEMA_FILE,
    load_manifest,
    load_schema_document,
    verify_files,
    write_json,
)
from seedctl.parts import table_parts
from seedctl.snapshot.history import ACCEPT_COMMAND, accepted_months, incomparable, shrunk_months


@dataclass
class TableReport:
    source: str
    metrics: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def fail(self, check: str, detail: str) -> None:
        self.failures.append(f"table {self.source}: {check}: {detail}")


def run_validate(
    params: Params,
    seeds_dir: Path,
    *,
    previous: dict[str, Any] | None = None,
    today: date | None = None,
    allow_shrink: bool = False,
) -> dict[str, Any]:
    """Check the snapshot in seeds_dir; write the report; raise ValidationFailed on failure."""
    manifest = load_manifest(seeds_dir)
    rules = params.validation
    today = today or datetime.now(UTC).date()
    file_problems = verify_files(seeds_dir, manifest)
    # What the export measured of each table's rows (schema.json, just verified above).
    recorded = {} if any(SCHEMA_FILE in p for p in file_problems) else load_schema_document(seeds_dir)["tables"]
    reports = []
    for name, source in params.sources.items():
        report = TableReport(name)
        entry = manifest["tables"].get(name)
        if entry is None:
            report.fail("present", "not in the manifest; run the whole pipeline (dvc repro)")
        elif not any(part["file"] in p for part in table_parts(entry) for p in file_problems):
            _check_table(report, source, entry, recorded.get(name, {}).get("checks", {}), rules, today)
            if rules.check_history and previous and name in previous.get("tables", {}):
                _check_history(
                    report,
                    entry,
                    previous["tables"][name],
                    allow_shrink or rules.allow_shrinking_history,
                    accepted_months(manifest, name),
                )
        reports.append(report)
    failures = [f"integrity: {p}" for p in file_problems]
    failures += [f for r in reports for f in r.failures]
    document = {
        "passed": not failures,
        "version": manifest.get("version"),
        "failures": len(failures),
        "tables": {r.source: {**r.metrics, "passed": not r.failures} for r in reports},
        "problems": failures,
    }
    write_json(seeds_dir / REPORT_FILE, document, sort_keys=False)
    if failures:
        # A lost-history failure is fixed by the source, or, when intended, by accepting it:
        # the hint names that command whichever problem comes first.
        accept = any(": history: " in f for f in failures) and ": history: " not in failures[0]
        raise ValidationFailed(
            f"validation failed ({len(failures)} problem{'s' if len(failures) > 1 else ''}): {failures[0]}",
            f"the snapshot must not be pushed; details in {seeds_dir / REPORT_FILE}"
            + (f"; lost history, if intended, is accepted once with {ACCEPT_COMMAND}" if accept else ""),
        )
    (seeds_dir / LATEST_FILE).write_text(f"{manifest['version']}\n", encoding="utf-8")
    return document


def _check_table(
    report: TableReport, source: Source, entry: dict[str, Any], checks: dict[str, Any], rules: Validation, today: date
) -> None:
    rows = entry["rows"]
    report.metrics["rows"] = rows
    report.metrics["min_rows"] = source.min_rows
    if rules.check_row_counts and rows < source.min_rows:
        report.fail(
            "row_count",
            f"{rows} rows, min_rows is {source.min_rows} (was the table truncated? fix the source or lower min_rows)",
        )
    if rules.check_date_ranges and source.time_column and rows:
        _check_date_range(report, entry["date_range"], rules, today)
    if rules.check_null_ratios and rows:
        _check_nulls(report, source, entry, rules)
    if rows:
        _check_rows(report, source, entry, checks, rules)


def _check_date_range(report: TableReport, date_range: dict[str, Any] | None, rules: Validation, today: date) -> None:
    if not date_range or date_range.get("min") is None:
        report.fail("date_range", "time column has no values")
        return
    report.metrics["date_min"], report.metrics["date_max"] = date_range["min"], date_range["max"]
    lo, hi = _parse_day(date_range["min"]), _parse_day(date_range["max"])
    if lo is None or lo < rules.min_date:
        report.fail(
            "date_range",
            f"earliest {date_range['column']} {date_range['min']} is before validation.min_date {rules.min_date}",
        )
    ceiling = today + timedelta(days=rules.max_future_days)
    if hi is None or hi > ceiling:
        report.fail(
            "date_range", f"latest {date_range['column']} {date_range['max']} is in the future (after {ceiling})"
        )


def _parse_day(text: str) -> date | None:
    """The calendar day of a PostgreSQL date/timestamp text; None for infinity or BC."""
    if not text or text.endswith("BC") or "infinity" in text:
        return None
    try:
        return datetime.fromisoformat(text[:10]).date()
    except ValueError:
        return None  # years past 9999


def _check_nulls(report: TableReport, source: Source, entry: dict[str, Any], rules: Validation) -> None:
    rows = entry["rows"]
    worst = 0.0
    for column, nulls in entry["null_counts"].items():
        ratio = nulls / rows
        worst = max(worst, ratio)
        limit = source.null_ratio_limit(column, rules.max_null_ratio)
        if ratio > limit:
            report.fail(
                "null_ratio",
                f"column {column} is {ratio:.1%} NULL, limit {limit:.1%} "
                f"(raise sources.{report.source}.column_max_null_ratio.{column} if expected)",
            )
    report.metrics["null_ratio_max"] = round(worst, 6)


def _check_rows(
    report: TableReport, source: Source, entry: dict[str, Any], checks: dict[str, Any], rules: Validation
) -> None:
    """Primary-key uniqueness and the OHLCV domain, as the export measured them on the rows
    it wrote (facts.RowChecks; schema.json is verified against the manifest above)."""
    pk = entry["schema"]["primary_key"] if rules.check_primary_keys else []
    if pk:
        duplicates = checks.get("pk_duplicates")
        report.metrics["pk_duplicates"] = duplicates
        if duplicates is None:
            report.fail("primary_key", "not measured by the export; run the whole pipeline (dvc repro)")
        elif duplicates:
            report.fail("primary_key", f"{duplicates} duplicate key(s) on ({', '.join(pk)})")
    if rules.check_domains and source.ohlcv:
        violations = checks.get("ohlcv_violations")
        report.metrics["ohlcv_violations"] = violations
        if violations is None:
            report.fail("ohlcv", "not measured by the export; run the whole pipeline (dvc repro)")
        elif violations:
            report.fail(
                "ohlcv",
                f"{violations} bar(s) break high >= max(open, close), "
                f"low <= min(open, close), prices > 0; first: {checks['ohlcv_first']}",
            )


def _check_history(
    report: TableReport, entry: dict[str, Any], before: dict[str, Any], allow: bool, accepted: dict[str, dict[str, int]]
) -> None:
    """No month that the previous snapshot had may lose rows (history only grows), unless
    allowed for good (params), or accepted for this snapshot (recorded in its manifest).

    Only what both snapshots measured is compared: when the time column changed or was
    removed, the check is skipped for this table with a note instead of false losses.
    """
    note = incomparable(entry, before)
    if note:
        report.metrics["history"] = note
        return
    shrunk = shrunk_months(entry, before)
    report.metrics["months_shrunk"] = len(shrunk)
    if accepted:
        report.metrics["months_shrink_accepted"] = len(accepted)
    unaccepted = {m: c for m, c in shrunk.items() if accepted.get(m) != c}
    if unaccepted and not allow:
        month, counts = next(iter(unaccepted.items()))
        report.fail(
            "history",
            f"{len(unaccepted)} past month(s) lost rows versus the previous snapshot, "
            f"first {month}: {counts['before']} -> {counts['after']} (if intended, accept it once: "
            f"{ACCEPT_COMMAND})",
        )
