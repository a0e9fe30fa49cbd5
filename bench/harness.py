"""What every measurement of bench/run.py shares: the servers, the clean environment, one
measured command (its log numbered in order), and the helpers between runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import yaml

from measure import Sample, run_measured
from seedctl.config import SNAPSHOT_BACKUP_KEYS
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres

REPO = Path(__file__).resolve().parent.parent
# From this size up the whole `seedctl snapshot` (what `make snapshot` runs) is also timed
# (or at the largest size of a --sizes run of smaller tables, so quick checks exercise it).
SNAPSHOT_ROWS = 1_000_000
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


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=seedctl bench", "-c", "user.email=bench@seedctl.invalid"]
    return subprocess.run([*command, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Bench:
    """The bench's servers, scratch directory and clean environment; sizes, limits and plan
    measure through it."""

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

    def pg_dump(self, url: str, name: str, fmt: str, out: Path) -> Sample:
        """`pg_dump -Fc` of public.<name> into the file `out`, or `-Fd -j 2` into the directory."""
        args = [self.pg_bin("pg_dump"), fmt, "-t", f"public.{name}", "-f", str(out), "-d", url]
        if fmt == "-Fd":
            shutil.rmtree(out, ignore_errors=True)  # pg_dump -Fd refuses an existing directory
            args[2:2] = ["-j", "2"]
        return self.run(f"pg_dump{fmt}-{name}", args, env=self.env)

    def drop_bucket(self, bucket: str) -> None:
        client = self.s3.client()
        for key in self.s3.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)
