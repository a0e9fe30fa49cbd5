"""`make demo`: the whole round trip on embedded defaults, on any fresh machine.

Starts a throwaway PostgreSQL and a loopback S3 API server (moto_server), loads the
plan-sized sample data, copies this repository into .demo/workspace (the checkout itself
stays clean) and there snapshots and pushes, twice (the second run shows an unchanged
database changes nothing). Then the database is dropped, a fresh clone restores it from
the remote into a new database, and a summary shows source and restored are identical.
Every server it started is stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from seedctl.layout import load_manifest
from seedctl.pg.checksum import Checksum, recorded_checksum
from seedctl.store.versions import git
from seedctl_dev import sample
from seedctl_dev.devs3 import S3Server
from seedctl_dev.devserver import TempPostgres


def scratch_copy(repo: Path, dest: Path, *, skip: tuple[str, ...] = ("tests/", "seeds/")) -> None:
    """Copy the repository's files (tracked, or untracked but not ignored) into a new git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for rel in listed:
        if rel and not rel.startswith(skip) and (repo / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, dest / rel)
    git = ["git", "-c", "user.name=seedctl demo", "-c", "user.email=demo@seedctl.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "demo workspace"], cwd=dest, check=True)


def _seedctl(workspace: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "seedctl"), *args], cwd=workspace, env=env, check=False)
    if result.returncode:
        raise SystemExit(f"demo: `seedctl {' '.join(args)}` failed (exit {result.returncode})")
    return time.perf_counter() - started


def _fingerprints(url: str, manifest: dict[str, Any]) -> dict[str, Checksum]:
    """Rows and content checksum of every snapshot table, computed by the server."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET extra_float_digits = 1")
        return {
            name: recorded_checksum(conn, sql.Identifier(*entry["table"].split(".")), entry)
            for name, entry in manifest["tables"].items()
        }


def run_demo(repo: Path, work_dir: Path) -> None:
    """Snapshot -> push -> lose the database -> fresh clone -> restore -> identical."""
    shutil.rmtree(work_dir, ignore_errors=True)
    office, new_server = work_dir / "workspace", work_dir / "new-server"
    office.mkdir(parents=True)
    with TempPostgres() as pg, S3Server(work_dir) as s3:
        print(
            f"demo: PostgreSQL {pg.version} ({pg.flavor}) on {pg.host}:{pg.port}; "
            f"S3 API server (moto_server) on {s3.endpoint}"
        )
        s3.create_bucket("seeds")
        remote = {
            "MINIO_ENDPOINT": s3.endpoint,
            "MINIO_ACCESS_KEY": s3.access_key,
            "MINIO_SECRET_KEY": s3.secret_key,
            "MINIO_BUCKET": "seeds",
            "MINIO_USE_SSL": "false",
        }
        url = pg.create_database("trading")
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            counts = sample.load_sample_data(conn)
        print(
            f"demo: sample data loaded in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        )

        scratch_copy(repo, office)
        env = {**os.environ, **remote, "DATABASE_URL": url, "DVC_NO_ANALYTICS": "1"}
        print("\ndemo: 1. snapshot + push")
        # `seedctl snapshot` commits and tags the snapshot itself (seeds/vYYYY.MM.DD).
        took_snapshot = _seedctl(office, env, "snapshot")
        print("\ndemo: 2. snapshot again, database unchanged")
        took_repeat = _seedctl(office, env, "snapshot")
        unchanged = not git(office, "status", "--porcelain")
        manifest = load_manifest(office / "seeds")
        before = _fingerprints(url, manifest)

        print("\ndemo: 3. the database is lost; a new server clones the repo and restores from the remote")
        pg.drop_database("trading")
        restored_url = pg.create_database("trading_restored")
        git(work_dir, "clone", "-q", str(office), str(new_server))
        took_restore = _seedctl(new_server, {**env, "DATABASE_URL": restored_url}, "restore")
        _seedctl(new_server, {**env, "DATABASE_URL": restored_url}, "verify", "--db")
        after = _fingerprints(restored_url, manifest)

    _summary(manifest, before, after, took_snapshot, took_repeat, unchanged, took_restore)
    print("demo: PostgreSQL and the S3 server stopped; workspaces in", work_dir)
    if before != after:
        raise SystemExit("demo: the restored database differs from the source")


def _summary(
    manifest: dict[str, Any],
    before: dict[str, Checksum],
    after: dict[str, Checksum],
    took_snapshot: float,
    took_repeat: float,
    unchanged: bool,
    took_restore: float,
) -> None:
    total = sum(t["size_bytes"] for t in manifest["tables"].values())
    print(f"\ndemo summary: snapshot {manifest['version']}, {total / 1e6:.2f} MB of Parquet in the remote")
    print(
        f"  snapshot + push {took_snapshot:5.1f} s | repeat {took_repeat:4.1f} s "
        f"(git {'unchanged' if unchanged else 'CHANGED'}) | restore on a new server {took_restore:4.1f} s"
    )
    print(f"  {'table':<24}{'source rows':>12}{'restored rows':>15}  {'content checksum (source = restored)'}")
    for name in manifest["tables"]:
        a, b = before[name], after[name]
        same = "identical" if a == b else "DIFFERENT"
        print(f"  {name:<24}{a.rows:>12,}{b.rows:>15,}  {a.digest[:18]:<20}{b.digest[:18]:<20}{same}")


def main(work_dir: Path | None = None) -> None:
    """`make demo`, in work_dir (default: .demo in the repository)."""
    from seedctl.signals import sigterm_as_interrupt

    repo = Path(__file__).resolve().parents[2]
    # Ctrl-C or SIGTERM leave the with-blocks of run_demo: every server it started is stopped.
    try:
        with sigterm_as_interrupt():
            run_demo(repo, work_dir or repo / ".demo")
    except KeyboardInterrupt:
        raise SystemExit("demo: interrupted; PostgreSQL and the S3 server stopped") from None


if __name__ == "__main__":
    main()
