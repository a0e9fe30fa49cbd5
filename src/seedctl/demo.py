"""`make demo`: the snapshot job end to end on embedded defaults, on any fresh machine.

Starts a throwaway PostgreSQL, loads the plan-sized sample data, copies this repository
into .demo/workspace (so the checkout itself stays clean), runs `seedctl snapshot` there
twice (the second run shows that an unchanged database changes nothing), prints a
summary, and stops every server it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from seedctl import sample
from seedctl.devserver import TempPostgres
from seedctl.manifest import load_manifest


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
    result = subprocess.run([str(Path(sys.executable).parent / "seedctl"), *args], cwd=workspace, env=env,
                            check=False)
    if result.returncode:
        raise SystemExit(f"demo: `seedctl {' '.join(args)}` failed (exit {result.returncode})")
    return time.perf_counter() - started


def run_demo(repo: Path, work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)
    workspace = work_dir / "workspace"
    workspace.mkdir(parents=True)
    with TempPostgres() as pg:
        print(f"demo: PostgreSQL {pg.version} ({pg.flavor}) on {pg.host}:{pg.port}")
        url = pg.create_database("trading")
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            counts = sample.load_sample_data(conn)
        print(f"demo: sample data loaded in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        scratch_copy(repo, workspace)
        env = {**os.environ, "DATABASE_URL": url, "DVC_NO_ANALYTICS": "1"}
        first = _seedctl(workspace, env, "snapshot")
        git = ["git", "-c", "user.name=seedctl demo", "-c", "user.email=demo@seedctl.invalid"]
        subprocess.run([*git, "add", "-A"], cwd=workspace, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=workspace, check=True)
        print("demo: snapshot again, database unchanged:")
        second = _seedctl(workspace, env, "snapshot")
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=workspace, capture_output=True,
                               text=True, check=True).stdout
        manifest = load_manifest(workspace / "seeds")
        total = sum(t["size_bytes"] for t in manifest["tables"].values())
        print()
        print(f"demo summary: snapshot {manifest['version']}, {len(manifest['tables'])} tables, "
              f"{sum(t['rows'] for t in manifest['tables'].values()):,} rows, {total / 1e6:.2f} MB Parquet")
        print(f"  first snapshot  {first:5.1f} s")
        print(f"  repeat snapshot {second:5.1f} s, git {'unchanged' if not dirty else 'CHANGED: ' + dirty}")
        print(f"  workspace: {workspace} (dvc.lock, seeds/manifest.json, seeds/data/)")
    print("demo: PostgreSQL stopped")


def main() -> None:
    repo = Path(__file__).resolve().parents[2]
    run_demo(repo, repo / ".demo")


if __name__ == "__main__":
    main()
