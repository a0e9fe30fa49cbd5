"""Staging and publishing an export: it is written beside the current snapshot, in
seeds/.export-<pid>, and swapped into place only when every table succeeded, so a failed
or killed export leaves the previous snapshot intact."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seedctl.layout import DATA_DIR, SCHEMA_FILE, write_json
from seedctl.signals import pid_alive


@contextmanager
def staging_dir(seeds_dir: Path) -> Iterator[Path]:
    """A fresh staging directory under seeds_dir, removed on the way out (published or not)."""
    seeds_dir.mkdir(parents=True, exist_ok=True)
    staging = seeds_dir / f".export-{os.getpid()}"
    _remove_stale_staging(seeds_dir)
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
    old = seeds_dir / f".old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    (staging / DATA_DIR).rename(target)
    os.replace(staging / SCHEMA_FILE, seeds_dir / SCHEMA_FILE)
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale_staging(seeds_dir: Path) -> None:
    """Leftovers of a killed export are never mistaken for a snapshot: remove them
    (but not those of an export that is still running)."""
    for stale in [*seeds_dir.glob(".export-*"), *seeds_dir.glob(".old-*")]:
        pid = stale.name.rsplit("-", 1)[-1]
        if stale.is_dir() and not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
