"""The report's measurement sections: each size, memory against row count, the machine's
limits, the plan-sized runs and the weekly snapshots."""

from __future__ import annotations

import statistics
from typing import Any

from measure import Series
from report.cells import (
    BIG,
    LIMITS_HEADING,
    PLAN_CLONE,
    PLAN_FULL,
    PLAN_HEADING,
    PLAN_UNCHANGED,
    RESTORE_TARGET,
    RSS_LIMIT,
    SNAPSHOT_TARGET,
    WEEKLY_PUSH,
    fmt_bytes,
    fmt_mb,
    fmt_rows,
    fmt_s,
    seconds_cell,
    target_for,
    time_cell,
    verdict,
)


def size_section(size: dict[str, Any], r: dict[str, Any]) -> str:
    exp, dump, rst, prs, prj = (
        size["export"],
        size["pg_dump"],
        size["restore"],
        size["pg_restore"],
        size["pg_restore_j2"],
    )
    rows = size["rows"]
    timed = "snapshot" in size  # the sizes the time targets are held at
    lines = [f"## {fmt_rows(rows)} rows (`{size['table']}`, median of {size['runs']} runs, min–max in brackets)", ""]
    lines.append("| measure | seedctl | PostgreSQL's tool | ratio | target | met? |")
    lines.append("|---|---|---|---|---|---|")

    def row(label: str, a: Series, tool: str, b: Series, limit: float | None) -> None:
        ratio = a.seconds / b.seconds
        target, met = (f"<= {limit:.1f}x", verdict(ratio, limit)) if limit is not None else ("—", "—")
        lines.append(f"| {label} | {time_cell(a)} | {tool}: {time_cell(b)} | {ratio:.2f}x | {target} | {met} |")

    if timed:
        row(
            "`seedctl snapshot` wall time (export → manifest → validate, push, commit, tag)",
            size["snapshot"],
            "`pg_dump -Fc`",
            size["snapshot_pg_dump"],
            target_for(rows, SNAPSHOT_TARGET),
        )
        row("the same `seedctl snapshot`", size["snapshot"], "`pg_dump -Fd -j 2`", size["snapshot_pg_dump_j2"], None)
    row("`seedctl export` alone (information)", exp, "`pg_dump -Fc`", dump, None)
    row(
        "`seedctl restore` wall time (empty database, incl. primary key and verification)",
        rst,
        "`pg_restore -Fc`",
        prs,
        target_for(rows, RESTORE_TARGET),
    )
    row("the same `seedctl restore`", rst, "`pg_restore -j 2` (directory dump)", prj, None)
    ratio = exp.bytes / dump.bytes
    lines.append(
        f"| output bytes | {exp.bytes:,} | `pg_dump -Fc`: {dump.bytes:,} | {ratio:.2f}x | <= 1.0x "
        f"| {verdict(ratio, 1.0)} |"
    )
    rss = [("`seedctl snapshot` peak RSS", size.get("snapshot"), "`pg_dump -Fc`", size.get("snapshot_pg_dump"))]
    rss += [
        ("`seedctl export` peak RSS", exp, "`pg_dump -Fc`", dump),
        ("`seedctl restore` peak RSS", rst, "`pg_restore -Fc`", prs),
    ]
    for label, a, tool, b in rss:
        if a is None or b is None:
            continue
        if rows >= BIG:
            note, met = "<= 400 MB", verdict(a.rss_max, RSS_LIMIT)
        else:
            note, met = "<= 400 MB at 10M", f"({'under' if a.rss_max <= RSS_LIMIT else 'over'} 400 MB here)"
        lines.append(
            f"| {label} (client processes) | {fmt_mb(a.rss)} (max {fmt_mb(a.rss_max)}) | {tool}: {fmt_mb(b.rss)} "
            f"| {a.rss / b.rss:.1f}x | {note} | {met} |"
        )
    lines.append("")
    throughput = (
        f"Throughput: seedctl export {rows / exp.seconds / 1e3:,.0f}k rows/s, restore "
        f"{rows / rst.seconds / 1e3:,.0f}k rows/s; pg_dump -Fc {rows / dump.seconds / 1e3:,.0f}k rows/s, "
        f"pg_restore -Fc {rows / prs.seconds / 1e3:,.0f}k rows/s, "
        f"pg_restore -j 2 {rows / prj.seconds / 1e3:,.0f}k rows/s."
    )
    if timed:
        throughput += (
            f" `pg_dump -Fd -j 2` directory: {size['snapshot_pg_dump_j2'].bytes:,} bytes. Each `seedctl snapshot` "
            "run is in a fresh copy of the repository with its own new bucket."
        )
    lines.append(f"{throughput} Table generated in SQL in {r['generated_seconds'][size['table']]:.1f} s.")
    lines.append("")
    return "\n".join(lines)


def rss_growth(r: dict[str, Any]) -> str:
    lines = [
        "## Peak RSS against row count",
        "",
        "Largest peak RSS over all runs of each client process (the server's own memory is not counted "
        "for either tool; `seedctl snapshot` runs its stages and DVC in its own process).",
        "",
        "| rows | seedctl snapshot | seedctl export | pg_dump -Fc | seedctl restore | pg_restore -Fc "
        "| pg_restore -j 2 |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["sizes"]:
        snap = fmt_mb(s["snapshot"].rss_max) if "snapshot" in s else "—"
        lines.append(
            f"| {fmt_rows(s['rows'])} | {snap} | {fmt_mb(s['export'].rss_max)} | {fmt_mb(s['pg_dump'].rss_max)} "
            f"| {fmt_mb(s['restore'].rss_max)} | {fmt_mb(s['pg_restore'].rss_max)} "
            f"| {fmt_mb(s['pg_restore_j2'].rss_max)} |"
        )
    st = r["cli_startup"]
    lines += [
        "",
        f"For scale: `seedctl --help` (interpreter start and imports, no work) takes "
        f"{fmt_s(st.seconds)} and {fmt_mb(st.rss)} RSS; it is part of every seedctl time above.",
        "",
    ]
    return "\n".join(lines)


def limits_section(lim: dict[str, Any]) -> str:
    rows, csv = lim["rows"], lim["csv_bytes"]
    to, into = lim["copy_to"].seconds, lim["copy_from"].seconds
    into_binary, binary = lim["copy_from_binary"].seconds, lim["binary_bytes"]
    d, up = lim["disk"], lim["upload"]
    write, read = statistics.median(d["write_seconds"]), statistics.median(d["read_seconds"])
    upload = statistics.median(up["seconds"])
    return "\n".join(
        [
            f"## {LIMITS_HEADING}",
            "",
            f"Measured in the same run (median of {lim['runs']}) on `{lim['table']}` ({rows:,} rows), the scratch "
            "directory and the S3 server: what no client can beat here. The COPY lines are the server alone "
            "(psql, in C, only passes the bytes on one connection: no parsing or rendering on the client); "
            "any text-COPY exporter or loader on one connection, seedctl's or PostgreSQL's, adds its own work "
            "to them.",
            "",
            "| ceiling | method | time | throughput |",
            "|---|---|---|---|",
            f"| server's COPY TO, no client work | `{lim['copy_to_command']}` | {time_cell(lim['copy_to'])} "
            f"| {rows / to / 1e3:,.0f}k rows/s, {csv / to / 1e6:.0f} MB/s of CSV |",
            f"| server's COPY FROM that CSV ({fmt_mb(csv)}), one connection, into a new table with no indexes "
            f"| `{lim['copy_from_command']}` | {time_cell(lim['copy_from'])} "
            f"| {rows / into / 1e3:,.0f}k rows/s, {csv / into / 1e6:.0f} MB/s |",
            f"| server's COPY FROM the same rows in binary format ({fmt_mb(binary)}), as `seedctl restore` sends "
            f"this table (src/seedctl/pg/copybinary.py) | `{lim['copy_from_binary_command']}` "
            f"| {time_cell(lim['copy_from_binary'])} | {rows / into_binary / 1e3:,.0f}k rows/s, "
            f"{binary / into_binary / 1e6:.0f} MB/s |",
            f"| disk sequential write | {d['bytes'] // 2**20} MiB in 1 MiB `os.write` calls, then `os.fsync`, "
            f"in the scratch directory ({d['filesystem']}) "
            f"| {seconds_cell(d['write_seconds'])} | {d['bytes'] / write / 1e6:,.0f} MB/s |",
            f"| disk read (page cache) | the same file, just written, read back with 1 MiB `readinto` "
            f"| {seconds_cell(d['read_seconds'])} | {d['bytes'] / read / 1e6:,.0f} MB/s |",
            f"| upload to the S3 server on loopback | one {fmt_mb(up['bytes'])} object, `put_object` with "
            f"botocore through `seedctl_dev.devs3.S3Server.client()` | {seconds_cell(up['seconds'])} "
            f"| {up['bytes'] / upload / 1e6:,.0f} MB/s |",
            "",
        ]
    )


def plan_section(p: dict[str, Any]) -> str:
    counts = ", ".join(f"`{t}` {n:,}" for t, n in p["counts"].items())
    lines = [
        f"## {PLAN_HEADING}",
        "",
        f"{counts} rows (`seedctl_dev.sample`, scale 1.0), S3 remote = `moto_server` on loopback. "
        f"Median of {p['runs']} runs, each in a fresh copy of the repository and a fresh bucket.",
        "",
        "| step | wall time | peak RSS | target | met? |",
        "|---|---|---|---|---|",
    ]

    def row(label: str, s: Series, limit: float | None) -> None:
        target = f"<= {limit:.0f} s" if limit else "—"
        met = verdict(s.seconds, limit) if limit else "—"
        lines.append(f"| {label} | {time_cell(s)} | {fmt_mb(s.rss_max)} | {target} | {met} |")

    row("`seedctl snapshot`, first (export → manifest → validate → push → git commit + tag)", p["full"], PLAN_FULL)
    row("`seedctl snapshot`, database unchanged (nothing to push, nothing to commit)", p["unchanged"], PLAN_UNCHANGED)
    row("`seedctl restore` into an empty database, data in the checkout", p["restore_local"], None)
    row("`seedctl restore` on a fresh `git clone` (dvc pull from S3, then load)", p["restore_clone"], PLAN_CLONE)
    row("`pg_dump -Fc` of the same database (for comparison)", p["pg_dump"], None)
    row("`pg_restore -Fc` into an empty database (for comparison)", p["pg_restore"], None)
    lines.append("")
    tables = ", ".join(f"`{n}` {fmt_bytes(t['bytes'])}" for n, t in p["tables"].items())
    lines.append(
        f"Snapshot data: {fmt_bytes(p['full'].bytes)} of Parquet ({tables}); `pg_dump -Fc` file: "
        f"{fmt_bytes(p['pg_dump'].bytes)} ({p['full'].bytes / p['pg_dump'].bytes:.2f}x)."
    )
    lines.append("")
    st = p["cli_startup"]
    lines += [
        "Anatomy of the unchanged snapshot (each piece run on its own afterwards, in the same workspace, single run):",
        "",
        "| piece | wall time | peak RSS |",
        "|---|---|---|",
        f"| `seedctl --help` (seedctl's interpreter start and imports) | {fmt_s(st.seconds)} | {fmt_mb(st.rss)} |",
    ]
    lines += [f"| {label} | {fmt_s(smp.seconds)} | {fmt_mb(smp.peak_rss_bytes)} |" for label, smp in p["anatomy"]]
    lines += [
        "",
        "An unchanged snapshot is one `seedctl` process: its start and imports (DVC's among them), "
        "the export, and alongside it DVC's Repo opened in a thread (dvc.yaml and dvc.lock read), "
        "DVC recording the export's outputs (the manifest and validate stages are skipped: their "
        "inputs are unchanged), the push check (one listing of the remote compared with the local "
        "cache; seedctl uploads only what is missing, `dvc push` only when that is not certain) and a "
        "few `git` calls. The fresh-clone restore adds "
        f"`dvc pull` to the local restore: {fmt_s(p['restore_clone'].seconds - p['restore_local'].seconds)} "
        "here (median difference).",
        "",
    ]
    up = ", ".join(f"{n:,}" for n in p["uploaded_full"])
    lines.append(
        f"Bytes uploaded by the first push (bucket size after minus before): {up} "
        "(data files, `schema.json` and DVC's directory listing). By the unchanged snapshot's push: "
        f"{', '.join(f'{n:,}' for n in p['uploaded_unchanged'])}; git unchanged after it: "
        f"{', '.join('yes' if g else 'NO' for g in p['unchanged_git'])}."
    )
    lines.append("")
    return "\n".join(lines)


def weeks_section(p: dict[str, Any]) -> str:
    weeks = p["weeks"]
    full = weeks[0]["uploaded"]
    lines = [
        "## Four weekly snapshots: remote storage vs four pg_dump -Fc files",
        "",
        "Week 1 is the full snapshot above; before weeks 2-4 one week of 5-minute bars is appended to "
        "`usdcop_m5_ohlcv` (`seedctl_dev.sample.append_ohlcv_week`), then `seedctl snapshot` runs and pushes. "
        "The remote keeps every snapshot (DVC content addressing: an unchanged file is stored once); "
        "`pg_dump -Fc` makes a whole new file every week.",
        "",
        "| week | bars added | ohlcv rows | uploaded by the push | % of the full snapshot | remote total "
        "| pg_dump -Fc file | four dumps, cumulative |",
        "|---|---|---|---|---|---|---|---|",
    ]
    dumps = 0
    for wk in weeks:
        dumps += wk["dump_bytes"]
        added = "—" if wk["rows_added"] is None else f"{wk['rows_added']:,}"
        lines.append(
            f"| {wk['week']} | {added} | {wk['ohlcv_rows']:,} | {wk['uploaded']:,} B "
            f"| {100 * wk['uploaded'] / full:.1f}% | {fmt_bytes(wk['remote_total'])} "
            f"| {fmt_bytes(wk['dump_bytes'])} | {fmt_bytes(dumps)} |"
        )
    total = weeks[-1]["remote_total"]
    weekly = [wk for wk in weeks if wk["week"] > 1]
    worst = max(wk["uploaded"] for wk in weekly) / full
    lines += [
        "",
        f"After four snapshots the remote holds **{fmt_bytes(total)}**; four `pg_dump -Fc` files take "
        f"**{fmt_bytes(dumps)}** ({total / dumps:.2f}x).",
        "",
        f"Target: each weekly push <= {100 * WEEKLY_PUSH:.0f}% of the full snapshot. "
        f"Measured: up to {100 * worst:.1f}% — "
        f"{verdict(worst, WEEKLY_PUSH)}. `usdcop_m5_ohlcv` is split into one file per month and "
        "`macro_indicators_daily` into one per year (params.yaml `partition`): a new week rewrites the "
        "newest month's file only, so a push uploads that file, `schema.json` and DVC's new listing of "
        "`seeds/data`; every other file is already in the remote.",
        "",
    ]
    return "\n".join(lines)
