"""File hashes, read once: sha256 (the manifest's proof of content) and md5 (DVC's content
address, which remote object holds a file; not used for security)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    return hash_file(path)[2]


def hash_file(path: Path, copy_to: Path | None = None) -> tuple[int, str, str]:
    """(size, md5, sha256) of a file from one read, written to copy_to meanwhile when given."""
    with path.open("rb") as src:
        if copy_to is None:
            return hash_stream(src)
        with copy_to.open("wb") as dst:
            return hash_stream(src, dst)


def hash_stream(src: BinaryIO | Any, dst: BinaryIO | Any = None) -> tuple[int, str, str]:
    """(size, md5, sha256) of what src yields, written to dst meanwhile when given."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    for block in iter(lambda: src.read(CHUNK), b""):
        md5.update(block)
        sha.update(block)
        size += len(block)
        if dst is not None:
            dst.write(block)
    return size, md5.hexdigest(), sha.hexdigest()
