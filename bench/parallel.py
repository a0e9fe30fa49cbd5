"""Parallel restore: `seedctl restore --jobs 1/2/4` against `pg_restore -j 2/-j 4`, in one run: `make bench-parallel`.

    python bench/parallel.py [--rows 2000000,1000000,500000,100000] [--runs 3] [--out docs/BENCHMARKS.md]

A database of several OHLCV tables of different sizes (bench/ohlcv.py: 5-minute bars of
four symbols, PRIMARY KEY (time, symbol), one file per month in the snapshot) on a
throwaway PostgreSQL; one `seedctl snapshot --no-push` of it in a scratch copy of this
repository and one `pg_dump -Fd` (directory format, what `pg_restore -j` needs) of the same
database. Each run, the order of the tools rotating, every tool restores into a new empty
database: seedctl restore --jobs 1 (one connection, one transaction), --jobs 2, --jobs 4,
pg_restore -j 2, pg_restore -j 4. Every restore is checked: each table's row count and an
md5 of its rows equal the source's. Writes its section of --out (medians, min-max, ratios).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Sample, Series, run_measured  # noqa: E402 - bench/ on sys.path first, as run.py
from ohlcv import create_ohlcv, table_name  # noqa: E402
from sections import write_section  # noqa: E402
from seedctl_dev.demo import scratch_copy  # noqa: E402
from seedctl_dev.devserver import TempPostgres  # noqa: E402

SEEDCTL = str(Path(sys.executable).parent / "seedctl")
TOOLS = ("seedctl --jobs 1", "seedctl --jobs 2", "seedctl --jobs 4", "pg_restore -j 2", "pg_restore -j 4")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000000,1000000,500000,100000", help="rows of each table, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="seedctl-bench-parallel-"))
    series = {tool: Series() for tool in TOOLS}
    try:
        with TempPostgres(work / "pg") as pg:
            url = pg.create_database("bench")
            names = [table_name(rows) for rows in sizes]
            with psycopg.connect(url, autocommit=True) as conn:
                for name, rows in zip(names, sizes, strict=True):
                    create_ohlcv(conn, name, rows)
            expected = _content(url, names)
            env = _env(url)
            project = _project(work / "repo", names)
            run_measured([SEEDCTL, "snapshot", "--no-push"], cwd=project, env=env, log=work / "snapshot.log")
            dump = work / "dump"
            pg_dump = [str(pg.bin_dir / "pg_dump"), "-Fd", "-j", "2", "-f", str(dump), "-d", url]
            run_measured(pg_dump, env=env, log=work / "pg_dump.log")
            series[TOOLS[0]].bytes = sum(p.stat().st_size for p in (project / "seeds" / "data").rglob("*.parquet"))
            series[TOOLS[3]].bytes = sum(p.stat().st_size for p in dump.iterdir())

            def restore(tool: str) -> Callable[[], Sample]:
                def go() -> Sample:
                    name = f"target_{uuid.uuid4().hex[:8]}"
                    target = pg.create_database(name)
                    try:
                        jobs = tool.rsplit(" ", 1)[1]
                        if tool.startswith("seedctl"):
                            command = [SEEDCTL, "restore", "--jobs", jobs]
                        else:
                            command = [
                                str(pg.bin_dir / "pg_restore"),
                                "-j",
                                jobs,
                                "--no-owner",
                                "-d",
                                target,
                                str(dump),
                            ]
                        log = work / f"{tool.replace(' ', '_')}.log"
                        sample = run_measured(command, cwd=project, env=_env(target), log=log)
                        got = _content(target, names)
                        assert got == expected, f"{tool}: not the source's rows"
                        return sample
                    finally:
                        pg.drop_database(name)

                return go

            for run in range(args.runs):
                for tool in TOOLS[run % len(TOOLS) :] + TOOLS[: run % len(TOOLS)]:
                    series[tool].add(restore(tool)())
                    print(f"bench: run {run + 1}: {tool} {series[tool].samples[-1].seconds:.2f} s", flush=True)
            pg_restore_version = _version(str(pg.bin_dir / "pg_restore"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section(args.out, "parallel", _report(args, sizes, series, time.monotonic() - started, pg_restore_version))
    print(f"bench: wrote the parallel section of {args.out}")
    return 0


def _env(url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MINIO_", "AWS_"))}
    return {**clean, "DATABASE_URL": url, "DVC_NO_ANALYTICS": "1"}


def _project(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True)
    scratch_copy(REPO, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["sources"] = {
        name: {"table": f"public.{name}", "time_column": "time", "partition": "month", "min_rows": 1} for name in names
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@seedctl.invalid"]
    subprocess.run([*git, "commit", "-qam", "bench params"], cwd=root, check=True)
    return root


def _content(url: str, names: list[str]) -> dict[str, tuple[int, str]]:
    """Each table's row count and an md5 of its rows' text, in key order."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        out = {}
        for name in names:
            row = conn.execute(
                f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY time, symbol)) FROM public.{name} t"
            ).fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
        return out


def _version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def _report(args: argparse.Namespace, sizes: list[int], s: dict[str, Series], wall: float, pg_restore: str) -> str:
    serial = s[TOOLS[0]]

    def row(tool: str) -> str:
        x = s[tool]
        against = s.get(tool.replace("seedctl --jobs", "pg_restore -j")) if tool.startswith("seedctl") else None
        versus = f"{x.seconds / against.seconds:.2f}" if against is not None else "-"
        return (
            f"| `{tool}` | {x.seconds:.2f} s ({x.seconds_min:.2f}-{x.seconds_max:.2f}) | "
            f"{serial.seconds / x.seconds:.2f} | {versus} |"
        )

    command = f"python bench/parallel.py --rows {args.rows} --runs {args.runs}"
    tables = ", ".join(f"{table_name(n)} ({n:,} rows)" for n in sizes)
    return f"""## Parallel restore: seedctl restore --jobs against pg_restore -j

<!-- Generated by bench/parallel.py; do not edit by hand. Re-run `make bench-parallel`. -->

Run {datetime.now(UTC).isoformat(timespec="seconds")}, {args.runs} runs of each tool, total wall time {wall:.0f} s,
{os.cpu_count()} cores ({platform.machine()}) shared with other work (the range of each row
is its runs' min-max), Python {platform.python_version()}, {pg_restore}. Command:

```sh
{command}    # = make bench-parallel
```

Source: {len(sizes)} tables, {tables}: 5-minute OHLCV bars, PRIMARY KEY (time, symbol).
seedctl restores its snapshot (Parquet, one file per month: {s[TOOLS[0]].bytes or 0:,} bytes);
pg_restore a `pg_dump -Fd` of the same database ({s[TOOLS[3]].bytes or 0:,} bytes). Each
restore goes into a new empty database and is checked: every table's row count and an md5
of its rows equal the source's.

| tool | median (min-max) | speed-up over `seedctl --jobs 1` | ratio seedctl / `pg_restore -j` same N |
|---|---|---|---|
{chr(10).join(row(t) for t in TOOLS)}

seedctl with --jobs N loads, indexes and checks (row count and content checksum) each table
it creates on a connection of its own in a staging schema, then moves them all into place
in one transaction: nothing is visible before its COMMIT, and a failure leaves the target
as it was. pg_restore -j commits table by table and checks nothing. Each table here has a
connection of its own (only connections beyond the number of tables take shares of the
largest table's files), so the largest table bounds the time. More connections cannot give
more than the cores do: with --jobs 1 the client already decodes Parquet and encodes the
COPY stream while the server parses it, builds keys and computes checksums, so on {os.cpu_count()}
shared cores expect little from --jobs or -j (a server with more cores was not measured).
"""


if __name__ == "__main__":
    sys.exit(main())
