"""Snapshot: the operator's one command for the pipeline (export -> manifest -> validate),
the push, the commit and the tag.

The stages run in this process (stages.py: the functions behind `python stages/<name>.py`),
DVC deciding which changed and recording each in dvc.lock (store.dvc.reproduce): what
`dvc repro` does, without starting a `dvc` process and three Python interpreters. A failing
stage raises its own error (one line, its exit code) and nothing is pushed or committed.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from seedctl.config import Params, load_params
from seedctl.errors import Failed
from seedctl.store.lock import checkout_lock
from seedctl.store.versions import git, next_tag


def run_pipeline(root: Path, params: Params, *, allow_shrink: bool = False) -> list[str]:
    """export -> manifest -> validate, each when DVC says it changed: the stages that ran.

    allow_shrink: accept lost history for this one snapshot (see history.py). Every stage
    re-runs then (as `dvc repro --force`): the manifest must record the acceptance.
    """
    from seedctl.snapshot.stages import STAGES, shrink_accepted_by
    from seedctl.store.dvc import reproduce

    accepted_by = f"{getpass.getuser()}@{socket.gethostname()}" if allow_shrink else shrink_accepted_by()
    seeds = root / "seeds"
    return reproduce(
        root,
        [(name, partial(stage, params, seeds, accepted_by)) for name, stage in STAGES.items()],
        force=allow_shrink,
        say=lambda line: print(line, file=sys.stderr, flush=True),
        first_always_runs=True,  # the export (dvc.yaml: always_changed)
    )


@dataclass
class SnapshotOutcome:
    version: str
    pushed: str | None = None  # the push summary, None when not pushed
    tag: str | None = None  # the new version tag, None when nothing changed or --no-git
    unchanged: bool = False
    committed: bool = False  # a git commit was made (with a tag, or dvc.lock alone)


def run_snapshot(
    params_path: Path,
    *,
    push: bool = True,
    commit: bool = True,
    git_push: bool = False,
    wait_s: float = 0,
    allow_shrink: bool = False,
) -> SnapshotOutcome:
    """The whole job: pipeline, push, then a git commit of the snapshot's files and a tag.

    Data is pushed before the commit and tag exist, so a tag never names data the remote
    lacks. Only one snapshot runs at a time per project (a lock file). allow_shrink accepts
    lost history for this snapshot only (run_pipeline).
    """
    root = params_path.resolve().parent
    with checkout_lock(root, "snapshot", wait_s):
        from seedctl.layout import load_manifest

        if commit:
            _refuse_staged_changes(root)
        params = load_params(params_path)
        connection = None
        if push:
            from seedctl.store.push import Connection

            # The remote's settings and bucket check, while the pipeline runs (its errors are
            # raised only when the push starts, after a successful pipeline).
            connection = Connection(root, params)
        run_pipeline(root, params, allow_shrink=allow_shrink)
        manifest = load_manifest(root / "seeds")
        outcome = SnapshotOutcome(manifest["version"])
        if push:
            from seedctl.store.push import push as push_snapshot

            outcome.pushed = str(push_snapshot(root, params, connection=connection, params_file=params_path))
        if commit:
            outcome.tag, outcome.committed = _commit_and_tag(root, manifest)
            outcome.unchanged = outcome.tag is None
            if push and outcome.tag:
                _catalog_tag(root, params, outcome.version, outcome.tag)
            if git_push and outcome.tag:
                git(root, "push", "--quiet", "origin", "HEAD", outcome.tag)
    return outcome


def run_tag(params_path: Path, *, git_push: bool = False, wait_s: float = 0) -> SnapshotOutcome:
    """Commit and tag the checked-out snapshot: only once it is validated and in the remote.

    The last step of `seedctl snapshot`, on its own for schedulers that run the pipeline,
    the push and the tag as separate tasks.
    """
    from seedctl.store.push import require_in_remote, require_validated

    root = params_path.resolve().parent
    with checkout_lock(root, "snapshot", wait_s):
        _refuse_staged_changes(root)
        version = require_validated(root / "seeds")
        require_in_remote(root, load_params(params_path))
        from seedctl.layout import load_manifest

        outcome = SnapshotOutcome(version)
        outcome.tag, outcome.committed = _commit_and_tag(root, load_manifest(root / "seeds"))
        outcome.unchanged = outcome.tag is None
        if outcome.tag:
            _catalog_tag(root, load_params(params_path), version, outcome.tag)
        if git_push and outcome.tag:
            git(root, "push", "--quiet", "origin", "HEAD", outcome.tag)
    return outcome


def _catalog_tag(root: Path, params: Params, version: str, tag: str) -> None:
    """The new tag in the bucket catalog's index line of the version (pushed before the tag
    existed). Only informative: a failure here leaves the tag null in index.json, which
    `seedctl catalog` fills in."""
    from seedctl.errors import SeedctlError
    from seedctl.store import s3
    from seedctl.store.catalog import record_tag
    from seedctl.store.settings import load_settings

    try:
        settings = load_settings(root, params)
        record_tag(s3.client(settings), settings, version, tag)
    except SeedctlError as exc:
        print(f"seedctl: warning: the catalog's index does not name tag {tag} yet: {exc.line()}", file=sys.stderr)


SNAPSHOT_FILES = (
    "dvc.lock",
    "seeds/.gitignore",
    "seeds/manifest.json",
    "seeds/checksums.sha256",
    "seeds/LATEST_VERSION",
    "seeds/reports",
)


def _refuse_staged_changes(root: Path) -> None:
    staged = git(root, "diff", "--cached", "--name-only").split()
    if staged:
        raise Failed(
            f"other changes are staged in git ({', '.join(staged[:3])}{'...' if len(staged) > 3 else ''})",
            "commit or unstage them first (a snapshot commit holds only the snapshot), or use --no-git",
        )


def _commit_and_tag(root: Path, manifest: dict[str, Any]) -> tuple[str | None, bool]:
    """Commit exactly the snapshot's files and tag the commit: (tag, committed); tag None
    when no new snapshot was committed.

    When the manifest is the same (the pipeline's code or settings changed, not the data:
    dvc.lock, perhaps the validation report) the change is committed untagged: a tag names
    a new snapshot, and this is none.
    """
    git(root, "add", "--", *[f for f in SNAPSHOT_FILES if (root / f).exists()])
    staged = git(root, "diff", "--cached", "--name-only").split()
    if not staged:
        return None, False
    identity = (
        []
        if git_config(root, "user.email")
        else ["-c", "user.name=seedctl", "-c", f"user.email=seedctl@{socket.gethostname()}"]
    )
    if "seeds/manifest.json" not in staged:
        git(
            root,
            *identity,
            "commit",
            "--quiet",
            "-m",
            f"seeds: pipeline record of snapshot {manifest['version']} (the pipeline changed, the data did not)",
        )
        return None, True
    tag = next_tag(root, datetime.now(UTC).date())
    git(root, *identity, "commit", "--quiet", "-m", f"seeds: snapshot {manifest['version']}")
    git(root, *identity, "tag", "-a", tag, "-m", f"seedctl snapshot {manifest['version']}")
    return tag, True


def git_config(root: Path, key: str) -> str:
    found = subprocess.run(["git", "config", key], cwd=root, capture_output=True, text=True, check=False)
    return found.stdout.strip()
