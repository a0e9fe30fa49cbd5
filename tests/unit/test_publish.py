"""Staging an export (snapshot/publish.py): where it goes, what git sees of it, and the
leftovers of a killed run. The kill itself, end to end: tests/func/snapshot/test_export_faults.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from seedctl.snapshot.publish import staging_dir


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_exports_are_removed_and_those_of_living_ones_kept(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    dead, alive = dead_pid(), os.getppid()
    stale = [seeds / ".staging" / f"export-{dead}", seeds / ".staging" / f"old-{dead}"]
    legacy = [seeds / f".export-{dead}", seeds / f".old-{dead}"]  # where older seedctl versions staged
    running = [seeds / ".staging" / f"export-{alive}", seeds / f".export-{alive}"]
    for path in stale + legacy + running:
        (path / "data").mkdir(parents=True)

    with staging_dir(seeds) as staging:
        assert staging == seeds / ".staging" / f"export-{os.getpid()}"
        assert not [p for p in stale + legacy if p.exists()]
        assert all(p.is_dir() for p in running)
    assert not staging.exists()


def test_staging_is_invisible_to_git_whatever_the_project_ignores(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("")  # the project's own ignores name nothing of seedctl's
    (tmp_path / "seeds").mkdir()
    with staging_dir(tmp_path / "seeds") as staging:
        (staging / "data").mkdir()
        (staging / "data" / "part.parquet").write_bytes(b"half written")
        listed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert listed == "?? .gitignore\n"
