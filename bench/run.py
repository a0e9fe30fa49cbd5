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
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Sample, Series, rss_method, run_measured
from ohlcv import PRIMARY_KEY, create_ohlcv, table_name
from sections import write_section
from seedctl.config import SNAPSHOT_BACKUP_KEYS
from seedctl.pg.copyout import find_psql
from seedctl_dev import sample
from seedctl_dev.demo import scratch_copy
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres

SIZES = {"short": [91_157, 1_000_000], "full": [91_157, 1_000_000, 10_000_000]}
# From this size up the whole `seedctl snapshot` (what `make snapshot` runs) is also timed
# (or at the largest size of a --sizes run of smaller tables, so quick checks exercise it).
SNAPSHOT_ROWS = 1_000_000
DISK_PROBE_BYTES = 256 * 2**20
UPLOAD_PROBE_BYTES = 64 * 10**6
BIN = Path(sys.executable).parent
SEEDCTL = str(BIN / "seedctl")


def default_runs(mode: str, rows: int) -> int:
    if mode == "short" or rows >= 5_000_000:
        return 3
    return 5 if rows >= 500_000 else 7


def log(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def rotated(kinds: tuple[str, ...], i: int) -> tuple[str, ...]:
    """The order of the tools in run i: each goes first in turn."""
    k = i % len(kinds)
    return kinds[k:] + kinds[:k]


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
        dump_dir = self.work / f"{name}.dir"
        env = {**self.env, "DATABASE_URL": url}
        export, pg_dump = Series(), Series()
        paths: dict[str, tuple[Series, str, Callable[[], Sample]]] = {
            "seedctl": (export, "export", lambda: self.run(f"export-{name}", [SEEDCTL, "export"], cwd=proj, env=env)),
            "pg": (pg_dump, "pg_dump", lambda: self.pg_dump(url, name, "-Fc", dump)),
        }
        for i in range(runs):
            for kind in rotated(tuple(paths), i):
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
        measured: dict[str, Any] = {
            "rows": rows,
            "table": name,
            "runs": runs,
            "project": proj,
            "export": export,
            "pg_dump": pg_dump,
        }
        if rows >= self.snapshot_rows:  # leaves its last `pg_dump -Fd -j 2` in dump_dir
            measured.update(self.bench_snapshot(url, name, runs, dump_dir))
        else:  # pg_restore -j 2 needs a directory-format dump; not timed at this size
            self.pg_dump(url, name, "-Fd", dump_dir)
        measured.update(self.bench_restore(name, rows, runs, proj, dump, dump_dir))
        return measured

    def pg_dump(self, url: str, name: str, fmt: str, out: Path) -> Sample:
        """`pg_dump -Fc` of public.<name> into the file `out`, or `-Fd -j 2` into the directory."""
        args = [self.pg_bin("pg_dump"), fmt, "-t", f"public.{name}", "-f", str(out), "-d", url]
        if fmt == "-Fd":
            shutil.rmtree(out, ignore_errors=True)  # pg_dump -Fd refuses an existing directory
            args[2:2] = ["-j", "2"]
        return self.run(f"pg_dump{fmt}-{name}", args, env=self.env)

    def bench_restore(
        self, name: str, rows: int, runs: int, proj: Path, dump: Path, dump_dir: Path
    ) -> dict[str, Series]:
        """Each tool restores into a new empty database; the first run of each is checked."""
        pg_restore = self.pg_bin("pg_restore")
        commands: dict[str, tuple[str, Callable[[str], Sample]]] = {
            "seedctl": (
                "seedctl restore",
                lambda target: self.run(
                    f"restore-{name}", [SEEDCTL, "restore"], cwd=proj, env={**self.env, "DATABASE_URL": target}
                ),
            ),
            "pg": (
                "pg_restore -Fc",
                lambda target: self.run(f"pg_restore-{name}", [pg_restore, "-d", target, str(dump)], env=self.env),
            ),
            "pg_j2": (
                "pg_restore -j 2",
                lambda target: self.run(
                    f"pg_restore-j2-{name}", [pg_restore, "-j", "2", "-d", target, str(dump_dir)], env=self.env
                ),
            ),
        }
        series = {kind: Series() for kind in commands}
        for i in range(runs):
            for kind in rotated(tuple(commands), i):
                label, go = commands[kind]
                dbname = f"r_{name}_{kind}_{i}"
                target = self.pg.create_database(dbname)
                self.checkpoint()
                sample_ = go(target)
                series[kind].add(sample_)
                if i == 0:  # each really restored every row (and the key: a duplicate insert fails)
                    self.check_restored(target, name, rows, label)
                self.pg.drop_database(dbname)
                log(
                    f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s, "
                    f"{sample_.peak_rss_bytes / 2**20:.0f} MiB"
                )
        return {"restore": series["seedctl"], "pg_restore": series["pg"], "pg_restore_j2": series["pg_j2"]}

    def check_restored(self, url: str, name: str, rows: int, label: str) -> None:
        got = self.count(url, f"public.{name}")
        if got != rows:
            raise RuntimeError(f"{label} restored {got} rows of {name}, expected {rows}")
        with psycopg.connect(url) as conn:
            pk = conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = %s::regclass",
                (f"public.{name}",),
            ).fetchone()[0]
        if pk != 1:
            raise RuntimeError(f"{label} restore of {name} has no primary key")

    def bench_snapshot(self, url: str, name: str, runs: int, dump_dir: Path) -> dict[str, Series]:
        """`seedctl snapshot` of one table (export -> manifest -> validate, push, commit, tag),
        each run in a fresh copy of the repository with its own bucket, rotating with a
        `pg_dump -Fc` and a `pg_dump -Fd -j 2` of the table."""
        snapshot, pg_dump, pg_dump_j2 = Series(), Series(), Series()
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
            bucket = f"snap-{name.replace('_', '-')}-{i}"
            env = {**self.env, **self.remote_env(bucket), "DATABASE_URL": url}
            for kind in rotated(("seedctl", "pg", "pg_j2"), i):
                self.checkpoint()
                if kind == "seedctl":
                    sample_ = self.run(f"snapshot-{name}", [SEEDCTL, "snapshot"], cwd=workspace, env=env)
                    snapshot.add(sample_)
                    label = "seedctl snapshot"
                elif kind == "pg":
                    sample_ = self.pg_dump(url, name, "-Fc", dump)
                    pg_dump.add(sample_)
                    label = "pg_dump -Fc"
                else:
                    sample_ = self.pg_dump(url, name, "-Fd", dump_dir)
                    pg_dump_j2.add(sample_)
                    label = "pg_dump -Fd -j 2"
                log(f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s")
            # What later runs need is only the timing: free the disk and moto's memory now.
            shutil.rmtree(workspace)
            self.drop_bucket(bucket)
        pg_dump_j2.bytes = sum(f.stat().st_size for f in dump_dir.iterdir())
        return {"snapshot": snapshot, "snapshot_pg_dump": pg_dump, "snapshot_pg_dump_j2": pg_dump_j2}

    # -- the machine's ceilings ------------------------------------------------------------

    def bench_limits(self, url: str, size: dict[str, Any]) -> dict[str, Any]:
        """What no client can beat here: the server's COPY in each direction with no client
        work (psql, one connection), the scratch disk's bandwidth, the upload rate to the S3
        server. Measured on one generated table, `runs` times each."""
        name, rows, runs = size["table"], size["rows"], size["runs"]
        psql = [find_psql() or self.pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
        csv = self.work / f"{name}.csv"
        order = ", ".join(PRIMARY_KEY)
        copy_to = f"COPY (SELECT * FROM public.{name} ORDER BY {order}) TO STDOUT (FORMAT csv)"
        self.run("limits-csv", [*psql, "-o", str(csv), "-c", copy_to])
        binary = self.work / f"{name}.bin"  # what seedctl restore sends for this table (pg/copybinary.py)
        select = f"(SELECT * FROM public.{name} ORDER BY {order})"
        self.run("limits-binary", [*psql, "-c", f"\\copy {select} TO '{binary}' (FORMAT binary)"])
        out, into, into_binary = Series(), Series(), Series()
        # Like seedctl restore: the table is created in the COPY's transaction (so FREEZE applies).
        create = f"CREATE TABLE public.limits_copy (LIKE public.{name})"
        copy_from = f"\\copy public.limits_copy FROM '{csv}' (FORMAT csv, FREEZE)"
        copy_from_binary = f"\\copy public.limits_copy FROM '{binary}' (FORMAT binary, FREEZE)"
        for i in range(runs):
            self.checkpoint()
            out.add(self.run("limits-copy-to", [*psql, "-o", "/dev/null", "-c", copy_to]))
            for series, command in ((into, copy_from), (into_binary, copy_from_binary)):
                self.checkpoint()
                series.add(self.run("limits-copy-from", [*psql, "-1", "-c", create, "-c", command]))
                if i == 0 and (got := self.count(url, "public.limits_copy")) != rows:
                    raise RuntimeError(f"COPY FROM loaded {got} rows, expected {rows}")
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("DROP TABLE public.limits_copy")
            log(
                f"limits run {i + 1}/{runs}: COPY TO {out.samples[-1].seconds:.2f} s, "
                f"COPY FROM csv {into.samples[-1].seconds:.2f} s, binary {into_binary.samples[-1].seconds:.2f} s"
            )
        csv_bytes, binary_bytes = csv.stat().st_size, binary.stat().st_size
        csv.unlink()
        binary.unlink()
        disk = [disk_bandwidth(self.work) for _ in range(runs)]
        upload = [self.upload_seconds() for _ in range(runs)]
        log(f"limits: disk write {disk[-1][0]:.2f} s, read {disk[-1][1]:.2f} s, upload {upload[-1]:.2f} s")
        return {
            "table": name,
            "rows": rows,
            "runs": runs,
            "csv_bytes": csv_bytes,
            "copy_to": out,
            "copy_to_command": f'psql -X -o /dev/null -c "{copy_to}"',
            "copy_from": into,
            "copy_from_command": f'psql -X -1 -c "{create}" -c "\\copy public.limits_copy FROM \'<csv>\' '
            f'(FORMAT csv, FREEZE)"',
            "binary_bytes": binary_bytes,
            "copy_from_binary": into_binary,
            "copy_from_binary_command": f'psql -X -1 -c "{create}" -c "\\copy public.limits_copy FROM \'<bin>\' '
            f'(FORMAT binary, FREEZE)"',
            "disk": {
                "dir": str(self.work),
                "filesystem": filesystem(self.work),
                "bytes": DISK_PROBE_BYTES,
                "write_seconds": [w for w, _ in disk],
                "read_seconds": [r for _, r in disk],
            },
            "upload": {"bytes": UPLOAD_PROBE_BYTES, "seconds": upload},
        }

    def upload_seconds(self) -> float:
        """One UPLOAD_PROBE_BYTES object put to the S3 server (bucket made and emptied outside the timing)."""
        client = self.s3.client()
        body = os.urandom(UPLOAD_PROBE_BYTES)
        self.s3.create_bucket("limits")
        started = time.perf_counter()
        client.put_object(Bucket="limits", Key="probe", Body=body)
        seconds = time.perf_counter() - started
        self.drop_bucket("limits")
        return seconds

    def drop_bucket(self, bucket: str) -> None:
        client = self.s3.client()
        for key in self.s3.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

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
            ("`seedctl export` (the export alone, its own process: reads all three tables)", [SEEDCTL, "export"]),
            ("`seedctl push` with nothing to push (the push check alone, its own process)", [SEEDCTL, "push"]),
            (
                "`dvc repro` (the same pipeline run by DVC: the export stage as its own `python` process)",
                [dvc, "repro"],
            ),
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


def disk_bandwidth(directory: Path) -> tuple[float, float]:
    """Seconds to write DISK_PROBE_BYTES into a new file in directory (1 MiB os.write calls,
    then fsync) and to read it back (from the page cache: the file was just written)."""
    block = os.urandom(2**20)
    path = directory / "disk-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(DISK_PROBE_BYTES // len(block)):
            view = memoryview(block)
            while view:  # a regular file takes the whole block, but os.write may return less
                view = view[os.write(fd, view) :]
        os.fsync(fd)
        write = time.perf_counter() - started
    finally:
        os.close(fd)
    buf = bytearray(len(block))
    with path.open("rb", buffering=0) as fh:
        started = time.perf_counter()
        while fh.readinto(buf):
            pass
        read = time.perf_counter() - started
    path.unlink()
    return write, read


def filesystem(path: Path) -> str:
    """Type and device of the mount that holds path (from /proc/mounts), or "?"."""
    best, found = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if str(path.resolve()).startswith(mount.rstrip("/") + "/") and len(mount) > len(best):
                best, found = mount, f"{fstype} on {device}, mounted at {mount}"
    except OSError:
        pass
    return found


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
        bench.snapshot_rows = min(SNAPSHOT_ROWS, max(sizes))
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
        log(f"measuring the machine's ceilings on {one_m['table']}")
        results["limits"] = bench.bench_limits(url, one_m)
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
        write_section(args.out, "core", render(results))
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
