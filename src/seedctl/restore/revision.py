"""A historical snapshot without touching the work tree: a temporary git worktree at `rev`.

The worktree shares this checkout's DVC cache and remote settings, so its data comes from
the cache or the remote; the operator's files stay exactly as they are.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seedctl.errors import NotFound
from seedctl.store.dvc import share_cache
from seedctl.store.versions import commit_of, git


@contextmanager
def checkout_revision(project_root: Path, rev: str) -> Iterator[Path]:
    """Yield a temporary checkout of `rev` (tag, branch or commit); removed afterwards."""
    commit = commit_of(project_root, rev)
    if commit is None:
        raise NotFound(
            f"no git revision {rev!r} in {project_root}",
            "list snapshot tags with `git tag -l 'seeds/*'`, or give a commit",
        )
    holder = Path(tempfile.mkdtemp(prefix="seedctl-rev-"))
    tree = holder / "tree"
    git(project_root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        local = project_root / ".dvc" / "config.local"
        if local.exists():
            shutil.copy2(local, tree / ".dvc" / "config.local")
        share_cache(project_root, tree)
        yield tree
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=project_root, capture_output=True, check=False
        )
        shutil.rmtree(holder, ignore_errors=True)
