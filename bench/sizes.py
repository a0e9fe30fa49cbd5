"""One generated OHLCV table per size: `seedctl export` vs `pg_dump`, the whole `seedctl
snapshot` from SNAPSHOT_ROWS up, and `seedctl restore` vs `pg_restore` (each checked)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import yaml

from harness import REPO, SEEDCTL, Bench, git, log, rotated
from measure import Sample, Series
from ohlcv import table_name
from seedctl_dev.demo import scratch_copy


def scratch_project(bench: Bench, name: str) -> Path:
    proj = bench.work / f"proj_{name}"
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
        "backup": bench.backup,
    }
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return proj


def bench_size(bench: Bench, url: str, rows: int) -> dict[str, Any]:
    name = table_name(rows)
    runs = bench.runs(rows)
    proj = scratch_project(bench, name)
    dump = bench.work / f"{name}.dump"
    dump_dir = bench.work / f"{name}.dir"
    env = {**bench.env, "DATABASE_URL": url}
    export, pg_dump = Series(), Series()
    paths: dict[str, tuple[Series, str, Callable[[], Sample]]] = {
        "seedctl": (export, "export", lambda: bench.run(f"export-{name}", [SEEDCTL, "export"], cwd=proj, env=env)),
        "pg": (pg_dump, "pg_dump", lambda: bench.pg_dump(url, name, "-Fc", dump)),
    }
    for i in range(runs):
        for kind in rotated(tuple(paths), i):
            series, label, go = paths[kind]
            bench.checkpoint()
            sample_ = go()
            series.add(sample_)
            log(f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s, {sample_.peak_rss_bytes / 2**20:.0f} MiB")
    files = sorted((proj / "seeds" / "data").rglob("*.parquet"))
    export.bytes, pg_dump.bytes = sum(f.stat().st_size for f in files), dump.stat().st_size
    export.files = len(files)
    bench.run(f"manifest-{name}", [SEEDCTL, "manifest"], cwd=proj, env=env)
    measured: dict[str, Any] = {
        "rows": rows,
        "table": name,
        "runs": runs,
        "project": proj,
        "export": export,
        "pg_dump": pg_dump,
    }
    if rows >= bench.snapshot_rows:  # leaves its last `pg_dump -Fd -j 2` in dump_dir
        measured.update(bench_snapshot(bench, url, name, runs, dump_dir))
    else:  # pg_restore -j 2 needs a directory-format dump; not timed at this size
        bench.pg_dump(url, name, "-Fd", dump_dir)
    measured.update(bench_restore(bench, name, rows, runs, proj, dump, dump_dir))
    return measured


def bench_restore(
    bench: Bench, name: str, rows: int, runs: int, proj: Path, dump: Path, dump_dir: Path
) -> dict[str, Series]:
    """Each tool restores into a new empty database; the first run of each is checked."""
    pg_restore = bench.pg_bin("pg_restore")
    commands: dict[str, tuple[str, Callable[[str], Sample]]] = {
        "seedctl": (
            "seedctl restore",
            lambda target: bench.run(
                f"restore-{name}", [SEEDCTL, "restore"], cwd=proj, env={**bench.env, "DATABASE_URL": target}
            ),
        ),
        "pg": (
            "pg_restore -Fc",
            lambda target: bench.run(f"pg_restore-{name}", [pg_restore, "-d", target, str(dump)], env=bench.env),
        ),
        "pg_j2": (
            "pg_restore -j 2",
            lambda target: bench.run(
                f"pg_restore-j2-{name}", [pg_restore, "-j", "2", "-d", target, str(dump_dir)], env=bench.env
            ),
        ),
    }
    series = {kind: Series() for kind in commands}
    for i in range(runs):
        for kind in rotated(tuple(commands), i):
            label, go = commands[kind]
            dbname = f"r_{name}_{kind}_{i}"
            target = bench.pg.create_database(dbname)
            bench.checkpoint()
            sample_ = go(target)
            series[kind].add(sample_)
            if i == 0:  # each really restored every row (and the key: a duplicate insert fails)
                check_restored(bench, target, name, rows, label)
            bench.pg.drop_database(dbname)
            log(f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s, {sample_.peak_rss_bytes / 2**20:.0f} MiB")
    return {"restore": series["seedctl"], "pg_restore": series["pg"], "pg_restore_j2": series["pg_j2"]}


def check_restored(bench: Bench, url: str, name: str, rows: int, label: str) -> None:
    got = bench.count(url, f"public.{name}")
    if got != rows:
        raise RuntimeError(f"{label} restored {got} rows of {name}, expected {rows}")
    with psycopg.connect(url) as conn:
        pk = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = %s::regclass",
            (f"public.{name}",),
        ).fetchone()[0]
    if pk != 1:
        raise RuntimeError(f"{label} restore of {name} has no primary key")


def bench_snapshot(bench: Bench, url: str, name: str, runs: int, dump_dir: Path) -> dict[str, Series]:
    """`seedctl snapshot` of one table (export -> manifest -> validate, push, commit, tag),
    each run in a fresh copy of the repository with its own bucket, rotating with a
    `pg_dump -Fc` and a `pg_dump -Fd -j 2` of the table."""
    snapshot, pg_dump, pg_dump_j2 = Series(), Series(), Series()
    dump = bench.work / f"{name}.snapshot.dump"
    for i in range(runs):
        workspace = bench.work / f"snapshot_{name}_{i}"
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
        git(workspace, "commit", "-q", "-am", "bench: one table")
        bucket = f"snap-{name.replace('_', '-')}-{i}"
        env = {**bench.env, **bench.remote_env(bucket), "DATABASE_URL": url}
        for kind in rotated(("seedctl", "pg", "pg_j2"), i):
            bench.checkpoint()
            if kind == "seedctl":
                sample_ = bench.run(f"snapshot-{name}", [SEEDCTL, "snapshot"], cwd=workspace, env=env)
                snapshot.add(sample_)
                label = "seedctl snapshot"
            elif kind == "pg":
                sample_ = bench.pg_dump(url, name, "-Fc", dump)
                pg_dump.add(sample_)
                label = "pg_dump -Fc"
            else:
                sample_ = bench.pg_dump(url, name, "-Fd", dump_dir)
                pg_dump_j2.add(sample_)
                label = "pg_dump -Fd -j 2"
            log(f"{name} run {i + 1}/{runs}: {label} {sample_.seconds:.2f} s")
        # What later runs need is only the timing: free the disk and moto's memory now.
        shutil.rmtree(workspace)
        bench.drop_bucket(bucket)
    pg_dump_j2.bytes = sum(f.stat().st_size for f in dump_dir.iterdir())
    return {"snapshot": snapshot, "snapshot_pg_dump": pg_dump, "snapshot_pg_dump_j2": pg_dump_j2}
