"""seedctl against pg_dump / pg_restore, in one run, on a throwaway server: `make bench`.

    python bench/run.py --mode short|full [--runs N] [--out docs/BENCHMARKS.md]

Starts its own PostgreSQL (seedctl_dev.devserver.TempPostgres) and S3 API server
(seedctl_dev.devs3.S3Server), generates OHLCV tables in SQL (91,157 and 1M rows; full mode
adds 10M) and the plan's three tables (seedctl_dev.sample), then measures, rotating the
order of the tools from run to run:

  * export: `seedctl export` of one table (a scratch project) vs `pg_dump -Fc -t table`
  * at 1M rows and above: the whole `seedctl snapshot` (what `make snapshot` runs: export,
    manifest, validate, push to the S3 server, commit, tag; fresh workspace and bucket per
    run) vs `pg_dump -Fc` and `pg_dump -Fd -j 2`
  * restore into an empty database: `seedctl restore` (create, COPY, primary key,
    row + checksum verification) vs `pg_restore -Fc` and `pg_restore -j 2` (directory dump)
  * output bytes, and the peak RSS of every child process on its own (os.wait4)
  * the machine's ceilings at 1M rows: the server's COPY TO and COPY FROM with no client
    work, the scratch disk's write and read bandwidth, the upload rate to the S3 server
  * plan-sized end to end: `seedctl snapshot` (full, then unchanged), restore from the
    checkout and on a fresh clone from the S3 remote, bytes uploaded by each push
  * four weekly snapshots (one week of bars appended between them): remote storage vs
    four `pg_dump -Fc` files
  * where export and restore time goes at 1M rows (bench/breakdown.py)

and writes the core section of docs/BENCHMARKS.md (bench/sections.py) plus the raw numbers as JSON under
bench/results/ (git-ignored). Servers it started are stopped, scratch files removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from harness import SEEDCTL, SNAPSHOT_ROWS, Bench, log
from limits import bench_limits
from machine import machine, versions
from measure import Sample, Series, rss_method
from ohlcv import create_ohlcv, table_name
from plan import bench_plan
from sections import write_section
from sizes import bench_size

SIZES = {"short": [91_157, 1_000_000], "full": [91_157, 1_000_000, 10_000_000]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mode",
        choices=("short", "full"),
        default="short",
        help="short: 91k and 1M rows (about 6 minutes); full: adds 10M rows",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs per measurement (default: short 3; full 7 at 91k, 5 at 1M, 3 at 10M)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-phase profile at 1M rows")
    parser.add_argument(
        "--sizes",
        type=lambda t: [int(x) for x in t.split(",")],
        default=None,
        help="override the row counts (comma-separated), e.g. for a quick check",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, projects)")
    parser.add_argument(
        "--section",
        default="core",
        help="the section of --out to write (bench/sections.py): core, or scale for the 1M-30M check",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])

    from report import render

    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="seedctl-bench-"))
    work.chmod(0o755)
    bench = Bench(args.mode, args.runs, work, breakdown=not args.no_breakdown)
    ok = False
    try:
        results: dict[str, Any] = {
            "mode": args.mode,
            "command": command.strip(),
            "machine": machine(),
            "rss_method": rss_method(),
            "started_at": started_at.isoformat(timespec="seconds"),
            "make_target": "bench-scale" if args.section == "scale" else None,
        }
        bench.pg.start()
        bench.s3.start()
        results["versions"] = versions(bench.pg)
        log(
            f"PostgreSQL {bench.pg.version} on port {bench.pg.port}; S3 API server on {bench.s3.endpoint}; "
            f"scratch {work}"
        )
        url = bench.pg.create_database("bench")
        sizes = args.sizes or SIZES[args.mode]
        bench.snapshot_rows = min(SNAPSHOT_ROWS, max(sizes))
        generated = {}
        with psycopg.connect(url, autocommit=True) as conn:
            for rows in sizes:
                t = time.perf_counter()
                create_ohlcv(conn, table_name(rows), rows)
                generated[table_name(rows)] = time.perf_counter() - t
                log(f"generated {table_name(rows)} ({rows:,} rows) in {generated[table_name(rows)]:.1f} s")
        results["generated_seconds"] = generated
        results["sizes"] = [bench_size(bench, url, rows) for rows in sizes]
        results["batch_rows"] = bench.backup.get("batch_rows", 131072)
        startup = Series()
        for _ in range(3):
            startup.add(bench.run("startup", [SEEDCTL, "--help"], env=bench.env))
        results["cli_startup"] = startup
        # At 1M rows (or the largest size of a --sizes run).
        one_m = next((s for s in results["sizes"] if s["rows"] == 1_000_000), results["sizes"][-1])
        log(f"measuring the machine's ceilings on {one_m['table']}")
        results["limits"] = bench_limits(bench, url, one_m)
        if bench.do_breakdown:
            import breakdown

            log(f"profiling export and restore phases at {one_m['rows']:,} rows")
            results["breakdown"] = {
                "rows": one_m["rows"],
                "export": breakdown.export_breakdown(
                    url, one_m["table"], one_m["project"], thorough=args.mode == "full"
                ),
                "restore": breakdown.restore_breakdown(
                    bench.pg, one_m["project"], bench.backup.get("batch_rows", 131072), thorough=args.mode == "full"
                ),
            }
        results["plan"] = bench_plan(bench)
        results["plan"]["cli_startup"] = startup
        results["machine"]["loadavg_end"] = os.getloadavg()
        results["total_seconds"] = time.perf_counter() - t0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_section(args.out, args.section, render(results))
        raw = HERE / "results"
        raw.mkdir(exist_ok=True)
        raw_path = raw / f"{started_at:%Y%m%dT%H%M%SZ}-{args.mode}.json"
        raw_path.write_text(json.dumps(results, indent=2, default=_jsonable) + "\n")
        log(f"wrote {args.out} and {raw_path} in {results['total_seconds']:.0f} s")
        ok = True
    finally:
        bench.s3.stop()
        bench.pg.stop()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench: scratch directory kept: {work} (logs in {work / 'logs'})", file=sys.stderr)
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, Series):
        return value.to_dict()
    if isinstance(value, Sample):
        return {"seconds": round(value.seconds, 4), "peak_rss_bytes": value.peak_rss_bytes}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    sys.exit(main())
