"""history.previous_manifest: the manifest committed at HEAD, read with one git process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from seedctl.snapshot.history import previous_manifest


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=cwd, check=True, capture_output=True
    )


def test_reads_the_committed_manifest_not_the_working_copy(tmp_path: Path) -> None:
    seeds = tmp_path / "project" / "seeds"
    seeds.mkdir(parents=True)
    _git(tmp_path / "project", "init", "-q")
    (seeds / "manifest.json").write_text(json.dumps({"version": "committed"}))
    _git(tmp_path / "project", "add", "-A")
    _git(tmp_path / "project", "commit", "-q", "-m", "snapshot")
    (seeds / "manifest.json").write_text(json.dumps({"version": "working copy"}))
    assert previous_manifest(seeds) == {"version": "committed"}


def test_none_outside_git_without_a_commit_or_without_the_directory(tmp_path: Path) -> None:
    assert previous_manifest(tmp_path) is None  # not a repository
    assert previous_manifest(tmp_path / "missing") is None
    _git(tmp_path, "init", "-q")
    (tmp_path / "seeds").mkdir()
    assert previous_manifest(tmp_path / "seeds") is None  # no commit yet
