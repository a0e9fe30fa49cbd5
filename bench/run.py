"""seedctl against pg_dump / pg_restore, in one run, on a throwaway server: `make bench`.

    python bench/run.py --mode short|full [--runs N] [--out docs/BENCHMARKS.md]

Starts its own PostgreSQL (seedctl_dev.devserver.TempPostgres) and S3 API server
(seedctl_dev.devs3.S3Server), generates OHLCV tables in SQL (91,157 and 1M rows; full mode
adds 10M) and the plan's three tables (seedctl_dev.sample), then measures, alternating the
order of the two tools from run to run:

  * export: `seedctl export` of one table (a scratch project) vs `pg_dump -Fc -t table`
  * restore into an empty database: `seedctl restore` (create, COPY, primary key,
    row + checksum verification) vs `pg_restore -Fc` (table, data, primary key)
  * output bytes, and the peak RSS of every child process on its own (os.wait4)
  * plan-sized end to end: `seedctl snapshot` (full, then unchanged), restore from the
    checkout and on a fresh clone from the S3 remote, bytes uploaded by each `dvc push`
  * four weekly snapshots (one week of bars appended between them): remote storage vs
    four `pg_dump -Fc` files
  * where export and restore time goes at 1M rows (bench/breakdown.py)

and writes docs/BENCHMARKS.md (entirely generated) plus the raw numbers as JSON under
bench/results/ (git-ignored). Servers it started are stopped, scratch files removed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Sample, Series, rss_method, run_measured
from ohlcv import create_ohlcv, table_name
from seedctl.config import SNAPSHOT_BACKUP_KEYS
from seedctl_dev import sample
from seedctl_dev.demo import scratch_copy
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres

SIZES = {"short": [91_157, 1_000_000], "full": [91_157, 1_000_000, 10_000_000]}
# The size at which the whole `seedctl snapshot` (what `make snapshot` runs) is also timed
# (or the largest size of a --sizes run).
SNAPSHOT_ROWS = 1_000_000
BIN = Path(sys.executable).parent
SEEDCTL = str(BIN / "seedctl")


def default_runs(mode: str, rows: int) -> int:
    if mode == "short" or rows >= 5_000_000:
        return 3
    return 5 if rows >= 500_000 else 7


def log(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


class Bench:
    def __init__(self, mode: str, runs: int | None, work: Path, breakdown: bool) -> None:
        self.mode = mode
        self.runs_override = runs
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        self.do_breakdown = breakdown
        self.pg = TempPostgres(work / "pg")
        self.s3 = S3Server(work)
        self.seq = 0
        self.snapshot_rows = SNAPSHOT_ROWS
        repo_params = yaml.safe_load((REPO / "params.yaml").read_text())
        self.backup = {k: v for k, v in (repo_params.get("backup") or {}).items() if k in SNAPSHOT_BACKUP_KEYS}
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PG", "MINIO_", "AWS_")) and k not in ("DATABASE_URL", "SEEDCTL_PARAMS")
        }
        clean["PATH"] = f"{BIN}{os.pathsep}{clean.get('PATH', '')}"
        clean["DVC_NO_ANALYTICS"] = "1"
        self.env = clean

    # -- helpers --------------------------------------------------------------------

    def pg_bin(self, name: str) -> str:
        return str(self.pg.bin_dir / name)

    def run(self, label: str, args: list[str], **kw: Any) -> Sample:
        self.seq += 1
        return run_measured(args, log=self.logs / f"{self.seq:03d}-{label}.log", **kw)

    def checkpoint(self) -> None:
        with psycopg.connect(self.pg.url("postgres"), autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def count(self, url: str, table: str) -> int:
        with psycopg.connect(url) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def runs(self, rows: int) -> int:
        return self.runs_override or default_runs(self.mode, rows)

    def remote_env(self, bucket: str) -> dict[str, str]:
        """MINIO_* for the bench's S3 server and one bucket (created here)."""
        self.s3.create_bucket(bucket)
        return {
            "MINIO_ENDPOINT": self.s3.endpoint,
            "MINIO_ACCESS_KEY": self.s3.access_key,
            "MINIO_SECRET_KEY": self.s3.secret_key,
            "MINIO_USE_SSL": "false",
            "MINIO_BUCKET": bucket,
        }

    def bucket_bytes(self, bucket: str) -> int:
        pages = self.s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))

    # -- per size ---------------------------------------------------------------------

    def scratch_project(self, name: str) -> Path:
        proj = self.work / f"proj_{name}"
        proj.mkdir()
        # Configured as the plan's OHLCV table is: one file per month.
        params = {
            "sources": {
                "ohlcv": {
                    "table": f"public.{name}",
                    "time_column": "time",
                    "partition": "month",
                    "required": True,
                    "min_rows": 0,
                }
            },
            "backup": self.backup,
        }
        (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        return proj

    def bench_size(self, url: str, rows: int) -> dict[str, Any]:
        name = table_name(rows)
        runs = self.runs(rows)
        proj = self.scratch_project(name)
        dump = self.work / f"{name}.dump"
        env = {**self.env, "DATABASE_URL": url}
        export, pg_dump = Series(), Series()
        paths = {
            "seedctl": (export, "export", lambda: self.run(f"export-{name}", [SEEDCTL, "export"], cwd=proj, env=env)),
            "pg": (
                pg_dump,
                "pg_dump",
                lambda: self.run(
                    f"pg_dump-{name}",
                    [self.pg_bin("pg_dump"), "-Fc", "-t", f"public.{name}", "-f", str(dump), "-d", url],
                    env=self.env,
                ),
            ),
        }
        for i in range(runs):
            for kind in ("seedctl", "pg") if i % 2 == 0 else ("pg", "seedctl"):
                series, label, go = paths[kind]
                self.checkpoint()
                sample_ = go()
                series.add(sample_)
                log(
                    f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s, "
                    f"{sample_.peak_rss_bytes / 2**20:.0f} MiB"
                )
        files = sorted((proj / "seeds" / "data").rglob("*.parquet"))
        export.bytes, pg_dump.bytes = sum(f.stat().st_size for f in files), dump.stat().st_size
        export.files = len(files)
        self.run(f"manifest-{name}", [SEEDCTL, "manifest"], cwd=proj, env=env)

        restore, pg_restore = Series(), Series()
        for i in range(runs):
            for kind in ("seedctl", "pg") if i % 2 == 0 else ("pg", "seedctl"):
                dbname = f"r_{name}_{kind}_{i}"
                target = self.pg.create_database(dbname)
                self.checkpoint()
                if kind == "seedctl":
                    sample_ = self.run(
                        f"restore-{name}", [SEEDCTL, "restore"], cwd=proj, env={**self.env, "DATABASE_URL": target}
                    )
                    restore.add(sample_)
                else:
                    sample_ = self.run(
                        f"pg_restore-{name}", [self.pg_bin("pg_restore"), "-d", target, str(dump)], env=self.env
                    )
                    pg_restore.add(sample_)
                if i == 0:  # both really restored every row (and the key: a duplicate insert fails)
                    got = self.count(target, f"public.{name}")
                    if got != rows:
                        raise RuntimeError(f"{kind} restored {got} rows of {name}, expected {rows}")
                    with psycopg.connect(target) as conn:
                        pk = conn.execute(
                            "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = %s::regclass",
                            (f"public.{name}",),
                        ).fetchone()[0]
                    if pk != 1:
                        raise RuntimeError(f"{kind} restore of {name} has no primary key")
                self.pg.drop_database(dbname)
                log(
                    f"{name} run {i + 1}/{runs}: {'seedctl restore' if kind == 'seedctl' else 'pg_restore'} "
                    f"{sample_.seconds:.2f} s, {sample_.peak_rss_bytes / 2**20:.0f} MiB"
                )
        measured = {
            "rows": rows,
            "table": name,
            "runs": runs,
            "project": proj,
            "export": export,
            "pg_dump": pg_dump,
            "restore": restore,
            "pg_restore": pg_restore,
        }
        if rows == self.snapshot_rows:
            measured["snapshot"], measured["snapshot_pg_dump"] = self.bench_snapshot(url, name, runs)
        return measured

    def bench_snapshot(self, url: str, name: str, runs: int) -> tuple[Series, Series]:
        """`seedctl snapshot` of one table (export -> manifest -> validate, push, commit, tag),
        each run in a fresh copy of the repository with its own bucket, alternating with a
        `pg_dump -Fc` of the table."""
        snapshot, pg_dump = Series(), Series()
        dump = self.work / f"{name}.snapshot.dump"
        for i in range(runs):
            workspace = self.work / f"snapshot_{name}_{i}"
            workspace.mkdir()
            scratch_copy(REPO, workspace)
            params = yaml.safe_load((workspace / "params.yaml").read_text())
            params["sources"] = {
                "ohlcv": {
                    "table": f"public.{name}",
                    "time_column": "time",
                    "partition": "month",
                    "required": True,
                    "min_rows": 0,
                    "ohlcv": {"open": "open", "high": "high", "low": "low", "close": "close"},
                }
            }
            (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            _git(workspace, "commit", "-q", "-am", "bench: one table")
            env = {**self.env, **self.remote_env(f"snap-{name.replace('_', '-')}-{i}"), "DATABASE_URL": url}
            for kind in ("seedctl", "pg") if i % 2 == 0 else ("pg", "seedctl"):
                self.checkpoint()
                if kind == "seedctl":
                    sample_ = self.run(f"snapshot-{name}", [SEEDCTL, "snapshot"], cwd=workspace, env=env)
                    snapshot.add(sample_)
                else:
                    sample_ = self.run(
                        f"pg_dump-{name}",
                        [self.pg_bin("pg_dump"), "-Fc", "-t", f"public.{name}", "-f", str(dump), "-d", url],
                        env=self.env,
                    )
                    pg_dump.add(sample_)
                log(
                    f"{name} run {i + 1}/{runs}: {'seedctl snapshot' if kind == 'seedctl' else 'pg_dump'} "
                    f"{sample_.seconds:.2f} s"
                )
        return snapshot, pg_dump

    # -- plan-sized end to end ----------------------------------------------------------

    def bench_plan(self) -> dict[str, Any]:
        url = self.pg.create_database("trading")
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            counts = sample.load_sample_data(conn)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        log(f"plan tables loaded in {time.perf_counter() - started:.1f} s: {counts}")
        runs = self.runs_override or (2 if self.mode == "short" else 3)
        full, unchanged, restore_local, restore_clone = Series(), Series(), Series(), Series()
        pg_dump, pg_restore = Series(), Series()
        uploaded_full, uploaded_unchanged, unchanged_git = [], [], []
        dump = self.work / "plan.dump"
        workspace = bucket = None
        for i in range(runs):
            bucket = f"seeds-run{i}"
            remote = self.remote_env(bucket)
            workspace = self.work / f"workspace{i}"
            workspace.mkdir()
            scratch_copy(REPO, workspace)
            env = {**self.env, **remote, "DATABASE_URL": url}
            order = ("seedctl", "pg") if i % 2 == 0 else ("pg", "seedctl")
            for kind in order:
                self.checkpoint()
                if kind == "seedctl":
                    before = self.bucket_bytes(bucket)
                    full.add(self.run("snapshot-full", [SEEDCTL, "snapshot"], cwd=workspace, env=env))
                    uploaded_full.append(self.bucket_bytes(bucket) - before)
                else:
                    pg_dump.add(
                        self.run(
                            "plan-pg_dump", [self.pg_bin("pg_dump"), "-Fc", "-f", str(dump), "-d", url], env=self.env
                        )
                    )
            if _git(workspace, "status", "--porcelain").strip():  # e.g. the remote in .dvc/config
                _git(workspace, "add", "-A")
                _git(workspace, "commit", "-q", "-m", "bench: workspace after the first snapshot")
            before = self.bucket_bytes(bucket)
            head = _git(workspace, "rev-parse", "HEAD")
            self.checkpoint()
            unchanged.add(self.run("snapshot-unchanged", [SEEDCTL, "snapshot"], cwd=workspace, env=env))
            uploaded_unchanged.append(self.bucket_bytes(bucket) - before)
            unchanged_git.append(
                head == _git(workspace, "rev-parse", "HEAD") and not _git(workspace, "status", "--porcelain").strip()
            )
            for kind in order:
                target = self.pg.create_database(f"plan_restore_{kind}_{i}")
                self.checkpoint()
                if kind == "seedctl":
                    restore_local.add(
                        self.run(
                            "plan-restore-local",
                            [SEEDCTL, "restore"],
                            cwd=workspace,
                            env={**env, "DATABASE_URL": target},
                        )
                    )
                else:
                    pg_restore.add(
                        self.run("plan-pg_restore", [self.pg_bin("pg_restore"), "-d", target, str(dump)], env=self.env)
                    )
                self.pg.drop_database(f"plan_restore_{kind}_{i}")
            clone = self.work / f"clone{i}"
            _git(self.work, "clone", "-q", str(workspace), str(clone))
            target = self.pg.create_database(f"plan_restore_clone_{i}")
            self.checkpoint()
            restore_clone.add(
                self.run("plan-restore-clone", [SEEDCTL, "restore"], cwd=clone, env={**env, "DATABASE_URL": target})
            )
            self.pg.drop_database(f"plan_restore_clone_{i}")
            log(
                f"plan run {i + 1}/{runs}: snapshot {full.samples[-1].seconds:.2f} s, unchanged "
                f"{unchanged.samples[-1].seconds:.2f} s, restore {restore_local.samples[-1].seconds:.2f} s, "
                f"fresh-clone restore {restore_clone.samples[-1].seconds:.2f} s"
            )
        assert workspace is not None and bucket is not None
        anatomy = self.unchanged_anatomy(workspace, {**self.env, **remote, "DATABASE_URL": url})
        manifest = json.loads((workspace / "seeds" / "manifest.json").read_text())
        full.bytes = sum(t["size_bytes"] for t in manifest["tables"].values())
        pg_dump.bytes = dump.stat().st_size
        weeks = self.bench_weeks(
            url, workspace, bucket, {**self.env, **remote, "DATABASE_URL": url}, manifest, uploaded_full[-1]
        )
        return {
            "counts": counts,
            "runs": runs,
            "full": full,
            "unchanged": unchanged,
            "restore_local": restore_local,
            "restore_clone": restore_clone,
            "pg_dump": pg_dump,
            "pg_restore": pg_restore,
            "uploaded_full": uploaded_full,
            "uploaded_unchanged": uploaded_unchanged,
            "unchanged_git": unchanged_git,
            "weeks": weeks,
            "anatomy": anatomy,
            "tables": {n: {"rows": t["rows"], "bytes": t["size_bytes"]} for n, t in manifest["tables"].items()},
        }

    def unchanged_anatomy(self, workspace: Path, env: dict[str, str]) -> list[tuple[str, Sample]]:
        """The pieces of an unchanged snapshot, each run on its own in the same workspace."""
        dvc = str(BIN / "dvc")
        pieces = [
            ("`dvc --version` (DVC's interpreter start and imports)", [dvc, "--version"]),
            (
                "`python stages/export.py` (the export stage alone: reads all three tables)",
                [str(BIN / "python"), "stages/export.py"],
            ),
            ("`dvc repro` (runs the always-changed export stage, checks the rest)", [dvc, "repro"]),
            ("`dvc push` with nothing to push", [dvc, "push"]),
        ]
        out = []
        for label, args in pieces:
            self.checkpoint()
            out.append((label, self.run("anatomy", args, cwd=workspace, env=env)))
        clone = self.work / "anatomy-clone"
        _git(self.work, "clone", "-q", str(workspace), str(clone))
        self.run("anatomy-remote", [SEEDCTL, "remote"], cwd=clone, env=env)
        out.append(
            (
                "`dvc pull` of the snapshot in a fresh clone (remote already configured)",
                self.run("anatomy", [dvc, "pull"], cwd=clone, env=env),
            )
        )
        return out

    def bench_weeks(
        self, url: str, workspace: Path, bucket: str, env: dict[str, str], manifest: dict[str, Any], uploaded_first: int
    ) -> list[dict[str, Any]]:
        """Week 1 is the full snapshot already in `bucket`; weeks 2-4 append a week of bars."""
        week_dump = self.work / "week.dump"
        self.run("week1-pg_dump", [self.pg_bin("pg_dump"), "-Fc", "-f", str(week_dump), "-d", url], env=self.env)
        weeks = [
            {
                "week": 1,
                "rows_added": None,
                "ohlcv_rows": manifest["tables"]["usdcop_m5_ohlcv"]["rows"],
                "uploaded": uploaded_first,
                "snapshot_seconds": None,
                "remote_total": self.bucket_bytes(bucket),
                "dump_bytes": week_dump.stat().st_size,
            }
        ]
        for week in (2, 3, 4):
            with psycopg.connect(url) as conn:
                added = sample.append_ohlcv_week(conn)
            before = self.bucket_bytes(bucket)
            took = self.run(f"week{week}-snapshot", [SEEDCTL, "snapshot"], cwd=workspace, env=env)
            after = self.bucket_bytes(bucket)
            self.run(
                f"week{week}-pg_dump", [self.pg_bin("pg_dump"), "-Fc", "-f", str(week_dump), "-d", url], env=self.env
            )
            rows = json.loads((workspace / "seeds" / "manifest.json").read_text())["tables"]["usdcop_m5_ohlcv"]["rows"]
            weeks.append(
                {
                    "week": week,
                    "rows_added": added,
                    "ohlcv_rows": rows,
                    "uploaded": after - before,
                    "snapshot_seconds": took.seconds,
                    "remote_total": after,
                    "dump_bytes": week_dump.stat().st_size,
                }
            )
            log(f"week {week}: +{added} bars, pushed {after - before:,} bytes in {took.seconds:.2f} s")
        return weeks


def _git(cwd: Path, *args: str) -> str:
    git = ["git", "-c", "user.name=seedctl bench", "-c", "user.email=bench@seedctl.invalid"]
    return subprocess.run([*git, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


# -- environment facts -----------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "ram_bytes": mem,
        "kernel": platform.release(),
        "os": _os_name(),
        "loadavg_start": os.getloadavg(),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def versions(pg: TempPostgres) -> dict[str, str]:
    import pyarrow

    def out(args: list[str]) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    with psycopg.connect(pg.url("postgres")) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    commit = out(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    dirty = out(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "stages", "dvc.yaml", "params.yaml"])
    return {
        "postgresql": f"{server} ({pg.flavor} binaries, {pg.bin_dir})",
        "pg_dump": out([str(pg.bin_dir / "pg_dump"), "--version"]),
        "pg_restore": out([str(pg.bin_dir / "pg_restore"), "--version"]),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "psycopg": psycopg.__version__,
        "dvc": out([str(BIN / "dvc"), "--version"]),
        "seedctl": commit + (" (with uncommitted changes in src/)" if dirty else ""),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mode",
        choices=("short", "full"),
        default="short",
        help="short: 91k and 1M rows (under 5 minutes); full: adds 10M rows",
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per measurement (default: short 5 at 91k, 3 at 1M; full 7/5/3)"
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
        if SNAPSHOT_ROWS not in sizes:
            bench.snapshot_rows = max(sizes)
        generated = {}
        with psycopg.connect(url, autocommit=True) as conn:
            for rows in sizes:
                t = time.perf_counter()
                create_ohlcv(conn, table_name(rows), rows)
                generated[table_name(rows)] = time.perf_counter() - t
                log(f"generated {table_name(rows)} ({rows:,} rows) in {generated[table_name(rows)]:.1f} s")
        results["generated_seconds"] = generated
        results["sizes"] = [bench.bench_size(url, rows) for rows in sizes]
        results["batch_rows"] = bench.backup.get("batch_rows", 131072)
        startup = Series()
        for _ in range(3):
            startup.add(bench.run("startup", [SEEDCTL, "--help"], env=bench.env))
        results["cli_startup"] = startup
        # At 1M rows (or the largest size of a --sizes run).
        one_m = next((s for s in results["sizes"] if s["rows"] == 1_000_000), results["sizes"][-1])
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
        results["plan"] = bench.bench_plan()
        results["plan"]["cli_startup"] = startup
        results["machine"]["loadavg_end"] = os.getloadavg()
        results["total_seconds"] = time.perf_counter() - t0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render(results))
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
