"""Staging and publishing an export: it is written beside the current snapshot, in
seeds/.staging/export-<pid>, and swapped into place only when every table succeeded, so a
failed or killed export leaves the previous snapshot intact.

seeds/.staging holds a `.gitignore` of its own that ignores everything in it, itself
included: what a killed export leaves there is never untracked debris in `git status`, in
any project, whatever its own .gitignore says. It is inside seeds/, on the same filesystem
as seeds/data, so the swap stays one rename.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seedctl.layout import DATA_DIR, SCHEMA_FILE, write_json
from seedctl.signals import pid_alive

STAGING_DIR = ".staging"
# What git must not see in STAGING_DIR: everything, this file too.
_IGNORE_ALL = "*\n"


@contextmanager
def staging_dir(seeds_dir: Path) -> Iterator[Path]:
    """A fresh staging directory under seeds_dir, removed on the way out (published or not)."""
    root = _staging_root(seeds_dir)
    _remove_stale_staging(seeds_dir, root)
    staging = root / f"export-{os.getpid()}"
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, seeds_dir: Path, schema: dict[str, Any]) -> None:
    """Write schema.json (sorted keys: its bytes are checksummed) and swap the finished
    export into place; a crash before this leaves the old one intact."""
    write_json(staging / SCHEMA_FILE, schema, sort_keys=True)
    target = seeds_dir / DATA_DIR
    old = staging.parent / f"old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    (staging / DATA_DIR).rename(target)
    os.replace(staging / SCHEMA_FILE, seeds_dir / SCHEMA_FILE)
    shutil.rmtree(old, ignore_errors=True)


def _staging_root(seeds_dir: Path) -> Path:
    """seeds/.staging, with its `.gitignore` in place before anything is staged in it (git
    lists no empty directory, so a kill before that leaves nothing git shows)."""
    root = seeds_dir / STAGING_DIR
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    try:
        current = ignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current != _IGNORE_ALL:
        ignore.write_text(_IGNORE_ALL, encoding="utf-8")
    return root


def _remove_stale_staging(seeds_dir: Path, root: Path) -> None:
    """Leftovers of a killed export are never mistaken for a snapshot: remove them (but not
    those of an export that is still running). seeds/.export-<pid> and seeds/.old-<pid> are
    where seedctl staged before seeds/.staging."""
    leftovers = [*root.glob("export-*"), *root.glob("old-*"), *seeds_dir.glob(".export-*"), *seeds_dir.glob(".old-*")]
    for stale in leftovers:
        pid = stale.name.rsplit("-", 1)[-1]
        if stale.is_dir() and not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
