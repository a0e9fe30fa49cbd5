"""Where the time goes: the per-phase profile of export and restore (bench/breakdown.py)."""

from __future__ import annotations

from typing import Any

from report.cells import alternative, breakdown_heading, fmt_mb, fmt_s, phase_seconds


def breakdown_section(b: dict[str, Any], r: dict[str, Any]) -> str:
    e, rs = b["export"], b["restore"]
    size = next(s for s in r["sizes"] if s["rows"] == b["rows"])
    lines = [
        f"## {breakdown_heading(b['rows'])}",
        "",
        "Each phase of seedctl's own code path (same query, CSV options, codecs, writer settings, "
        "rendering, DDL, checksum query) timed on its own, in process, on data held in memory "
        "(bench/breakdown.py). The streamed run does these one after the other. Single run, on the "
        "same shared machine: read the shares, not the absolute seconds (the sum can differ from the "
        "command's median by a third either way).",
        "",
        f"### Export (`seedctl export` median {fmt_s(size['export'].seconds)})",
        "",
        "| phase | seconds | share |",
        "|---|---|---|",
    ]
    total = sum(t for _, t in e["phases"])
    for label, t in e["phases"]:
        lines.append(f"| {label} | {t:.2f} | {100 * t / total:.0f}% |")
    lines.append(f"| sum | {total:.2f} | |")
    lines += ["", "Alternatives measured on the same data:", ""]
    lines += [f"- {label}: {t:.2f} s" for label, t in e["alternatives"]]
    lines.append(
        f"- COPY output: csv {fmt_mb(e['csv_bytes'])}, binary {fmt_mb(e['binary_bytes'])}; "
        f"Parquet {fmt_mb(e['parquet_bytes'])}"
    )
    copy = phase_seconds(e, "COPY")
    unordered, psycopg_reader = (
        alternative(e, "same COPY without ORDER BY"),
        alternative(e, "same COPY read through psycopg"),
    )
    top = e["plan"][0].split("  (")[0].strip() if e.get("plan") else "?"
    lines += [
        "",
        "Reading it: "
        f"ORDER BY costs {copy - unordered:.2f} s of the COPY (plan: `{top}`, work_mem {e['work_mem']}), "
        "the price of files whose bytes depend only on their rows; reading the rows through psycopg "
        f"instead of psql costs {psycopg_reader - copy:+.2f} s; the checksum scan "
        f"({100 * phase_seconds(e, 'content checksum') / total:.0f}% of the work) and the parsing run alongside "
        "the COPY, on a second connection and in pyarrow's threads.",
    ]
    if "run_export_seconds" in e:
        lines.append(f"In-process `run_export` under cProfile: {fmt_s(e['run_export_seconds'])}.")
    lines += [
        "",
        f"### Restore (`seedctl restore` median {fmt_s(size['restore'].seconds)})",
        "",
        "| phase | seconds | share |",
        "|---|---|---|",
    ]
    total = sum(t for _, t in rs["phases"])
    for label, t in rs["phases"]:
        lines.append(f"| {label} | {t:.2f} | {100 * t / total:.0f}% |")
    lines.append(f"| sum | {total:.2f} | |")
    lines += ["", "Alternatives measured on the same data:", ""]
    lines += [f"- {label}: {t:.2f} s" for label, t in rs["alternatives"]]
    client = phase_seconds(rs, "Parquet read") + phase_seconds(rs, "render")
    lines += [
        "",
        f"Reading it: client-side work (Parquet read + rendering binary COPY rows) is {client:.2f} s and runs "
        f"one batch ahead in a thread, alongside the server's COPY FROM ({phase_seconds(rs, 'COPY FROM'):.2f} s: "
        f"reading the rendered binary rows, {fmt_mb(rs['rendered_bytes'])}; the export's CSV of the same rows "
        f"is {fmt_mb(e['csv_bytes'])}); the verification checksum is "
        f"{100 * phase_seconds(rs, 'content checksum') / total:.0f}%.",
    ]
    if "restore_run_seconds" in rs:
        lines.append(f"In-process acquire + `restore.run` under cProfile: {fmt_s(rs['restore_run_seconds'])}.")
    if "profile_top" in e:
        lines += [
            "",
            "Top functions by own time (cProfile):",
            "",
            "| run | function | calls | own s | cumulative s |",
            "|---|---|---|---|---|",
        ]
        for name, part in (("export", e), ("restore", rs)):
            for row in part["profile_top"][:8]:
                lines.append(
                    f"| {name} | `{row['function']}` | {row['calls']:,} | {row['tottime']:.2f} | {row['cumtime']:.2f} |"
                )
    lines.append("")
    return "\n".join(lines)
