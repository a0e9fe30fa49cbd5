"""The top of the report: the targets at a glance (each ratio, met or not, and why), and the
other targets (memory, the plan-sized runs, the weekly push)."""

from __future__ import annotations

import statistics
from typing import Any

from measure import Series
from report.cells import (
    BIG,
    LIMITS_HEADING,
    NOT_MEASURED,
    PLAN_CLONE,
    PLAN_FULL,
    PLAN_HEADING,
    PLAN_UNCHANGED,
    RESTORE_TARGET,
    RSS_FLAT,
    RSS_LIMIT,
    SNAPSHOT_TARGET,
    WEEKLY_PUSH,
    anchor,
    breakdown_heading,
    fmt_mb,
    fmt_rows,
    fmt_s,
    phase_seconds,
    target_for,
    verdict,
)


def _ratio_cell(seedctl: Series, pg: Series, limit: float) -> str:
    ratio = seedctl.seconds / pg.seconds
    return (
        f"**{ratio:.2f}x** ({fmt_s(seedctl.seconds)} / {fmt_s(pg.seconds)}), "
        f"target <= {limit:.1f}x: {verdict(ratio, limit)}"
    )


def _parallel_cell(size: dict[str, Any]) -> str:
    snap, dump = size["snapshot"], size["snapshot_pg_dump_j2"]
    rst, prs = size["restore"], size["pg_restore_j2"]
    return (
        f"snapshot {snap.seconds / dump.seconds:.2f}x ({fmt_s(snap.seconds)} / {fmt_s(dump.seconds)}), "
        f"restore {rst.seconds / prs.seconds:.2f}x ({fmt_s(rst.seconds)} / {fmt_s(prs.seconds)}); no target"
    )


def glance(r: dict[str, Any]) -> str:
    sized = [s for s in r["sizes"] if "snapshot" in s]
    heads = []
    for s in sized:
        held = "" if s["rows"] in (1_000_000, BIG) else f" (held to the {'10M' if s['rows'] >= BIG else '1M'} targets)"
        heads.append(f"{fmt_rows(s['rows'])} rows{held}")
    missing = [] if any(s["rows"] >= BIG for s in sized) else [NOT_MEASURED]
    if missing:
        heads.append("10M rows")
    lines = [
        "## Targets at a glance",
        "",
        "Medians of the same run. Ratios are seedctl / PostgreSQL's tool (seedctl seconds / the tool's "
        'seconds; lower is better for seedctl). "By N%" is how far the ratio is above its target.',
        "",
        "| what the operator runs | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(heads),
        "| `make snapshot` (= `seedctl snapshot`: export, manifest, validate, push to the S3 server, commit, tag) "
        "vs `pg_dump -Fc` | "
        + " | ".join(
            [_ratio_cell(s["snapshot"], s["snapshot_pg_dump"], target_for(s["rows"], SNAPSHOT_TARGET)) for s in sized]
            + missing
        )
        + " |",
        "| `make restore` (= `seedctl restore`: verify, load, keys, content check) into an empty database "
        "vs `pg_restore -Fc` | "
        + " | ".join(
            [_ratio_cell(s["restore"], s["pg_restore"], target_for(s["rows"], RESTORE_TARGET)) for s in sized] + missing
        )
        + " |",
        "| the same two vs `pg_dump -Fd -j 2` / `pg_restore -j 2` (PostgreSQL's parallel best) | "
        + " | ".join([_parallel_cell(s) for s in sized] + missing)
        + " |",
        "",
    ]
    b = r.get("breakdown")
    where = f"[{LIMITS_HEADING}]({anchor(LIMITS_HEADING)})"
    if b:
        where += f", phases: [{breakdown_heading(b['rows'])}]({anchor(breakdown_heading(b['rows']))})"
    lines += [f"Where the time goes, from this run's numbers (ceilings: {where}):", ""]
    for s in sized:
        lines.append(f"- {_snapshot_why(s, r, b)}")
        lines.append(f"- {_restore_why(s, r, b)}")
    lines.append("")
    return "\n".join(lines)


def _scale(size: dict[str, Any], lim: dict[str, Any]) -> tuple[float, str]:
    """Factor from the ceilings' table to this size, and how the text says so."""
    if size["rows"] == lim["rows"]:
        return 1.0, ""
    return size["rows"] / lim["rows"], f"at the rates measured on {fmt_rows(lim['rows'])} rows"


def _snapshot_why(size: dict[str, Any], r: dict[str, Any], b: dict[str, Any] | None) -> str:
    lim, plan = r["limits"], r["plan"]
    rows, scale, at = size["rows"], *_scale(size, lim)
    snap, exp, dump = size["snapshot"].seconds, size["export"].seconds, size["snapshot_pg_dump"].seconds
    limit = target_for(rows, SNAPSHOT_TARGET)
    copy_to = lim["copy_to"].seconds * scale
    upload = size["export"].bytes * statistics.median(lim["upload"]["seconds"]) / lim["upload"]["bytes"]
    anatomy = anchor(PLAN_HEADING)
    text = (
        f"`seedctl snapshot`, {fmt_rows(rows)} rows: {fmt_s(snap)} against a target of {fmt_s(limit * dump)} "
        f"({limit:.1f}x `pg_dump -Fc`'s {fmt_s(dump)}). `seedctl export` alone (timed on its own) takes {fmt_s(exp)}; "
        f"the other {fmt_s(snap - exp)} are DVC (its imports and reading the pipeline, in a thread alongside the "
        f"export; recording the outputs), "
        f"manifest, validate, push, commit and tag, all in the same process "
        f"(for scale: an unchanged plan-sized snapshot, the same steps with nothing to write or push, takes "
        f"{fmt_s(plan['unchanged'].seconds)}; its pieces are in the [anatomy]({anatomy})). "
        f"Ceilings{f' ({at})' if at else ''}: the server's COPY TO with no client work {fmt_s(copy_to)}; "
        f"uploading the {fmt_mb(size['export'].bytes)} of Parquet {fmt_s(upload)}."
    )
    if b and b["rows"] == rows:
        e = b["export"]
        total = sum(t for _, t in e["phases"])
        shares = ", ".join(
            f"{label} {100 * phase_seconds(e, prefix) / total:.0f}%"
            for label, prefix in (
                ("COPY TO through psql", "COPY"),
                ("CSV parsing", "CSV parsing"),
                ("Parquet write", "codec conversion"),
                ("checksum (alongside)", "content checksum"),
            )
        )
        text += f" Export phases: {shares}."
    return text


def _restore_why(size: dict[str, Any], r: dict[str, Any], b: dict[str, Any] | None) -> str:
    lim = r["limits"]
    rows, scale, at = size["rows"], *_scale(size, lim)
    rst, prs = size["restore"].seconds, size["pg_restore"].seconds
    limit = target_for(rows, RESTORE_TARGET)
    budget = limit * prs
    copy_from = lim["copy_from_binary"].seconds * scale  # the format seedctl restore sends this table in
    if copy_from <= budget:
        rest = f"that leaves {fmt_s(budget - copy_from)} of the target for"
    else:
        rest = f"on its own {fmt_s(copy_from - budget)} over the target, before"
    text = (
        f"`seedctl restore`, {fmt_rows(rows)} rows: {fmt_s(rst)} against a target of {fmt_s(budget)} ({limit:.1f}x "
        f"`pg_restore -Fc`'s {fmt_s(prs)}, which loads with text COPY and builds the same key). Binary COPY FROM alone "
        f"(one connection, no client work, no key{f'; {at}' if at else ''}): {fmt_s(copy_from)}, "
        f"{100 * copy_from / rst:.0f}% of the restore; {rest} everything else (process start, Parquet read "
        "and render not hidden behind the COPY, primary key, verification)."
    )
    if b and b["rows"] == rows:
        rs = b["restore"]
        total = sum(t for _, t in rs["phases"])
        client = phase_seconds(rs, "Parquet read") + phase_seconds(rs, "render")
        text += (
            f" Restore phases: COPY FROM {100 * phase_seconds(rs, 'COPY FROM') / total:.0f}%, primary key "
            f"{100 * phase_seconds(rs, 'ADD PRIMARY KEY') / total:.0f}%, verification checksum "
            f"{100 * phase_seconds(rs, 'content checksum') / total:.0f}%, "
            f"Parquet read + render {100 * client / total:.0f}% "
            "(runs alongside the COPY)."
        )
    return text


def other_targets(r: dict[str, Any]) -> str:
    lines = [
        "Memory, size and the plan-sized database:",
        "",
        "| scope | target | measured | met? |",
        "|---|---|---|---|",
    ]
    big = [s for s in r["sizes"] if s["rows"] >= BIG]
    if big:
        s = big[-1]
        for what, series in (
            ("`seedctl snapshot`", s.get("snapshot")),
            ("`seedctl restore`", s["restore"]),
            ("`seedctl export`", s["export"]),
        ):
            if series is None:
                continue
            lines.append(
                f"| {fmt_rows(s['rows'])} rows | peak RSS of {what} <= 400 MB | {fmt_mb(series.rss_max)} "
                f"| {verdict(series.rss_max, RSS_LIMIT)} |"
            )
    else:
        s = r["sizes"][-1]
        seen = ", ".join(
            f"{what} {fmt_mb(s[key].rss_max)}"
            for what, key in (("snapshot", "snapshot"), ("restore", "restore"), ("export", "export"))
            if key in s
        )
        lines.append(
            f"| 10M rows | peak RSS of `seedctl snapshot`, `seedctl restore`, `seedctl export` <= 400 MB "
            f"| {NOT_MEASURED}; at {fmt_rows(s['rows'])} rows: {seen} | — |"
        )
    growth = _growth(r)
    if growth:
        parts = [f"{k} {growth[k]:.2f}x" for k in ("snapshot", "restore", "export") if k in growth]
        worst = max(growth[k] for k in ("snapshot", "restore", "export") if k in growth)
        lines.append(
            f"| {growth['from']} → {growth['to']} rows | peak RSS flat (largest <= {RSS_FLAT}x smallest) "
            f"| {', '.join(parts)} | {verdict(worst, RSS_FLAT)} |"
        )
    else:
        lines.append(
            f"| 1M → 10M rows | peak RSS flat (largest <= {RSS_FLAT}x smallest) | needs two sizes of at least "
            "two row groups: `make bench-full` | — |"
        )
    ratios = [(s, s["export"].bytes / s["pg_dump"].bytes) for s in r["sizes"]]
    lines.append(
        "| each size | snapshot bytes / `pg_dump -Fc` bytes <= 1.0x | "
        + ", ".join(f"{x:.2f}x at {fmt_rows(s['rows'])}" for s, x in ratios)
        + f" | {verdict(max(x for _, x in ratios), 1.0)} |"
    )
    p = r["plan"]
    for label, series, limit in (
        ("full `seedctl snapshot` (incl. push, commit, tag)", p["full"], PLAN_FULL),
        ("unchanged snapshot (nothing to push, nothing to commit)", p["unchanged"], PLAN_UNCHANGED),
        ("fresh-clone `seedctl restore` (dvc pull from the S3 server, then load)", p["restore_clone"], PLAN_CLONE),
    ):
        lines.append(
            f"| plan-sized | {label} <= {limit:.0f} s | {fmt_s(series.seconds)} | {verdict(series.seconds, limit)} |"
        )
    unchanged_up = max(p["uploaded_unchanged"])
    lines.append(
        f"| plan-sized | bytes uploaded by the unchanged snapshot's push = 0 | {unchanged_up:,} B "
        f"| {verdict(unchanged_up, 0)} |"
    )
    weekly = [wk for wk in p["weeks"] if wk["week"] > 1]
    if weekly:
        worst = max(wk["uploaded"] for wk in weekly) / p["weeks"][0]["uploaded"]
        lines.append(
            f"| plan-sized | weekly push <= {100 * WEEKLY_PUSH:.0f}% of the full snapshot | {100 * worst:.1f}% "
            f"(largest week) | {verdict(worst, WEEKLY_PUSH)} |"
        )
    lines.append("")
    return "\n".join(lines)


def _growth(r: dict[str, Any]) -> dict[str, Any] | None:
    """Peak RSS of the largest size against the smallest that fills at least two row groups
    (below that, less than the bounded batch is ever held: not the steady state)."""
    steady = [s for s in r["sizes"] if s["rows"] >= 2 * r.get("batch_rows", 0)]
    if len(steady) < 2:
        return None
    lo, hi = steady[0], steady[-1]
    out = {
        "from": fmt_rows(lo["rows"]),
        "to": fmt_rows(hi["rows"]),
        "export": hi["export"].rss_max / lo["export"].rss_max,
        "restore": hi["restore"].rss_max / lo["restore"].rss_max,
    }
    if "snapshot" in lo and "snapshot" in hi:
        out["snapshot"] = hi["snapshot"].rss_max / lo["snapshot"].rss_max
    return out
