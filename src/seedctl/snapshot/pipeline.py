"""Snapshot: the operator's one command for `dvc repro` (export -> manifest -> validate).

Config and database problems are caught here, in-process, before DVC starts, so that they
are one line and a precise exit code. A failing stage prints its own `seedctl: error:`
line; in logs (no terminal) DVC's wrapper noise is dropped and the stage's exit code is
passed on, so cron and Airflow see exactly what failed.
"""

from __future__ import annotations

import getpass
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seedctl.config import load_params
from seedctl.errors import AlreadyReported, Failed
from seedctl.progress import interactive
from seedctl.store.dvc import DvcWhenTold, dvc, env_with_venv
from seedctl.store.lock import snapshot_lock
from seedctl.store.versions import git, next_tag

# DVC's own lines around a failed stage: the stage already said what went wrong.
_DVC_NOISE = re.compile(r"^(ERROR: failed to reproduce|Having any troubles\?|$)")


def start_repro(root: Path, *, allow_shrink: bool = False) -> DvcWhenTold:
    """`dvc repro`, its interpreter started now (DVC's imports overlap seedctl's preflight),
    run by _finish_repro; leaving the with-block before that kills it before it did anything.

    allow_shrink: accept lost history for this one snapshot (see history.py). Every stage
    re-runs (--force): a manifest already written by a failed run must record the acceptance.
    """
    command = dvc()
    # Warm only where `dvc` is this interpreter's (the launcher imports DVC from here).
    warm = Path(command) == Path(sys.executable).parent / "dvc"
    env = env_with_venv()
    if allow_shrink:
        from seedctl.snapshot.history import ALLOW_SHRINK_ENV

        env[ALLOW_SHRINK_ENV] = f"{getpass.getuser()}@{socket.gethostname()}"
    return DvcWhenTold(
        ["repro", "--force"] if allow_shrink else ["repro"],
        dvc_command=[command],
        warm=warm,
        cwd=root,
        env=env,
        stderr=None if interactive() else subprocess.PIPE,
    )


def _finish_repro(repro: DvcWhenTold) -> None:
    result = repro.run()
    if result.stderr is None:
        if result.returncode:
            raise Failed("snapshot failed (see above)", "nothing was published")
        return
    if result.returncode == 0:
        return
    for line in result.stderr.splitlines():
        if not _DVC_NOISE.match(line):
            print(line, file=sys.stderr)
    exited = re.search(r"exited with (\d+)", result.stderr)
    if exited and "seedctl: error:" in result.stderr:
        raise AlreadyReported(int(exited.group(1)))
    raise Failed(f"snapshot failed: dvc repro exited {result.returncode}", "see the lines above")


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
    repro: DvcWhenTold | None = None,
    allow_shrink: bool = False,
) -> SnapshotOutcome:
    """The whole job: pipeline, push, then a git commit of the snapshot's files and a tag.

    Data is pushed before the commit and tag exist, so a tag never names data the remote
    lacks. Only one snapshot runs at a time per project (a lock file).

    `dvc repro` is started first and held (`repro`, from start_repro(root) if not given):
    DVC's interpreter and imports overlap the lock, the checks and the preflight.
    allow_shrink accepts lost history for this snapshot only (start_repro).
    """
    root = params_path.resolve().parent
    with repro or start_repro(root, allow_shrink=allow_shrink) as repro, snapshot_lock(root, wait_s):
        from seedctl.layout import load_manifest
        from seedctl.snapshot.export import preflight

        if commit:
            _refuse_staged_changes(root)
        params = load_params(params_path)
        preflight(params)
        connection = None
        if push:
            from seedctl.store.push import Connection

            # The remote's settings and bucket check, while `dvc repro` runs (its errors are
            # raised only when the push starts, after a successful pipeline, as before).
            connection = Connection(root, params)
        _finish_repro(repro)
        manifest = load_manifest(root / "seeds")
        outcome = SnapshotOutcome(manifest["version"])
        if push:
            from seedctl.store.push import push as push_snapshot

            outcome.pushed = str(push_snapshot(root, params, connection=connection))
        if commit:
            outcome.tag, outcome.committed = _commit_and_tag(root, manifest)
            outcome.unchanged = outcome.tag is None
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
    with snapshot_lock(root, wait_s):
        _refuse_staged_changes(root)
        version = require_validated(root / "seeds")
        require_in_remote(root, load_params(params_path))
        from seedctl.layout import load_manifest

        outcome = SnapshotOutcome(version)
        outcome.tag, outcome.committed = _commit_and_tag(root, load_manifest(root / "seeds"))
        outcome.unchanged = outcome.tag is None
        if git_push and outcome.tag:
            git(root, "push", "--quiet", "origin", "HEAD", outcome.tag)
    return outcome


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
