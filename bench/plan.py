"""Plan-sized end to end: the plan's three tables through `seedctl snapshot` (full, then
unchanged), restore from the checkout and from a fresh clone, and four weekly snapshots."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg

from harness import BIN, REPO, SEEDCTL, Bench, git, log
from measure import Sample, Series
from seedctl_dev import sample
from seedctl_dev.demo import scratch_copy


def bench_plan(bench: Bench) -> dict[str, Any]:
    url = bench.pg.create_database("trading")
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        counts = sample.load_sample_data(conn)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"plan tables loaded in {time.perf_counter() - started:.1f} s: {counts}")
    runs = bench.runs_override or (2 if bench.mode == "short" else 3)
    full, unchanged, restore_local, restore_clone = Series(), Series(), Series(), Series()
    pg_dump, pg_restore = Series(), Series()
    uploaded_full, uploaded_unchanged, unchanged_git = [], [], []
    dump = bench.work / "plan.dump"
    workspace = bucket = None
    for i in range(runs):
        bucket = f"seeds-run{i}"
        remote = bench.remote_env(bucket)
        workspace = bench.work / f"workspace{i}"
        workspace.mkdir()
        scratch_copy(REPO, workspace)
        env = {**bench.env, **remote, "DATABASE_URL": url}
        order = ("seedctl", "pg") if i % 2 == 0 else ("pg", "seedctl")
        for kind in order:
            bench.checkpoint()
            if kind == "seedctl":
                before = bench.bucket_bytes(bucket)
                full.add(bench.run("snapshot-full", [SEEDCTL, "snapshot"], cwd=workspace, env=env))
                uploaded_full.append(bench.bucket_bytes(bucket) - before)
            else:
                pg_dump.add(
                    bench.run(
                        "plan-pg_dump", [bench.pg_bin("pg_dump"), "-Fc", "-f", str(dump), "-d", url], env=bench.env
                    )
                )
        if git(workspace, "status", "--porcelain").strip():  # e.g. the remote in .dvc/config
            git(workspace, "add", "-A")
            git(workspace, "commit", "-q", "-m", "bench: workspace after the first snapshot")
        before = bench.bucket_bytes(bucket)
        head = git(workspace, "rev-parse", "HEAD")
        bench.checkpoint()
        unchanged.add(bench.run("snapshot-unchanged", [SEEDCTL, "snapshot"], cwd=workspace, env=env))
        uploaded_unchanged.append(bench.bucket_bytes(bucket) - before)
        unchanged_git.append(
            head == git(workspace, "rev-parse", "HEAD") and not git(workspace, "status", "--porcelain").strip()
        )
        for kind in order:
            target = bench.pg.create_database(f"plan_restore_{kind}_{i}")
            bench.checkpoint()
            if kind == "seedctl":
                restore_local.add(
                    bench.run(
                        "plan-restore-local",
                        [SEEDCTL, "restore"],
                        cwd=workspace,
                        env={**env, "DATABASE_URL": target},
                    )
                )
            else:
                pg_restore.add(
                    bench.run("plan-pg_restore", [bench.pg_bin("pg_restore"), "-d", target, str(dump)], env=bench.env)
                )
            bench.pg.drop_database(f"plan_restore_{kind}_{i}")
        clone = bench.work / f"clone{i}"
        git(bench.work, "clone", "-q", str(workspace), str(clone))
        target = bench.pg.create_database(f"plan_restore_clone_{i}")
        bench.checkpoint()
        restore_clone.add(
            bench.run("plan-restore-clone", [SEEDCTL, "restore"], cwd=clone, env={**env, "DATABASE_URL": target})
        )
        bench.pg.drop_database(f"plan_restore_clone_{i}")
        log(
            f"plan run {i + 1}/{runs}: snapshot {full.samples[-1].seconds:.2f} s, unchanged "
            f"{unchanged.samples[-1].seconds:.2f} s, restore {restore_local.samples[-1].seconds:.2f} s, "
            f"fresh-clone restore {restore_clone.samples[-1].seconds:.2f} s"
        )
    assert workspace is not None and bucket is not None
    anatomy = unchanged_anatomy(bench, workspace, {**bench.env, **remote, "DATABASE_URL": url})
    manifest = json.loads((workspace / "seeds" / "manifest.json").read_text())
    full.bytes = sum(t["size_bytes"] for t in manifest["tables"].values())
    pg_dump.bytes = dump.stat().st_size
    weeks = bench_weeks(
        bench, url, workspace, bucket, {**bench.env, **remote, "DATABASE_URL": url}, manifest, uploaded_full[-1]
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


def unchanged_anatomy(bench: Bench, workspace: Path, env: dict[str, str]) -> list[tuple[str, Sample]]:
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
        bench.checkpoint()
        out.append((label, bench.run("anatomy", args, cwd=workspace, env=env)))
    clone = bench.work / "anatomy-clone"
    git(bench.work, "clone", "-q", str(workspace), str(clone))
    bench.run("anatomy-remote", [SEEDCTL, "remote"], cwd=clone, env=env)
    out.append(
        (
            "`dvc pull` of the snapshot in a fresh clone (remote already configured)",
            bench.run("anatomy", [dvc, "pull"], cwd=clone, env=env),
        )
    )
    return out


def bench_weeks(
    bench: Bench,
    url: str,
    workspace: Path,
    bucket: str,
    env: dict[str, str],
    manifest: dict[str, Any],
    uploaded_first: int,
) -> list[dict[str, Any]]:
    """Week 1 is the full snapshot already in `bucket`; weeks 2-4 append a week of bars."""
    week_dump = bench.work / "week.dump"
    bench.run("week1-pg_dump", [bench.pg_bin("pg_dump"), "-Fc", "-f", str(week_dump), "-d", url], env=bench.env)
    weeks = [
        {
            "week": 1,
            "rows_added": None,
            "ohlcv_rows": manifest["tables"]["usdcop_m5_ohlcv"]["rows"],
            "uploaded": uploaded_first,
            "snapshot_seconds": None,
            "remote_total": bench.bucket_bytes(bucket),
            "dump_bytes": week_dump.stat().st_size,
        }
    ]
    for week in (2, 3, 4):
        with psycopg.connect(url) as conn:
            added = sample.append_ohlcv_week(conn)
        before = bench.bucket_bytes(bucket)
        took = bench.run(f"week{week}-snapshot", [SEEDCTL, "snapshot"], cwd=workspace, env=env)
        after = bench.bucket_bytes(bucket)
        bench.run(
            f"week{week}-pg_dump", [bench.pg_bin("pg_dump"), "-Fc", "-f", str(week_dump), "-d", url], env=bench.env
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
