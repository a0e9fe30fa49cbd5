"""File hashes, read once: sha256 (the manifest's proof of content) and md5 (DVC's content
address, which remote object holds a file; not used for security).

Within one process a file is read for its hashes once: a snapshot's export, manifest and
validate stages run in one process and each wanted the hashes of every data file (three reads
of every byte, most of an hourly snapshot's client time). The hashes are kept under the
file's identity (path, device, inode, size, modification and change times in nanoseconds),
taken before and after the read, so a file written, truncated, renamed over or re-linked
since is read again. A separate process (`seedctl validate`, `seedctl verify`) reads it again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20

Hashes = tuple[int, str, str]  # size, md5, sha256
_known: dict[tuple[object, ...], Hashes] = {}


def sha256_file(path: Path) -> str:
    return hash_file(path)[2]


def hash_file(path: Path, copy_to: Path | None = None) -> Hashes:
    """(size, md5, sha256) of a file from one read, written to copy_to meanwhile when given."""
    before = _identity(path)
    if copy_to is None and (known := _known.get(before)) is not None:
        return known
    with path.open("rb") as src:
        if copy_to is None:
            found = hash_stream(src)
        else:
            with copy_to.open("wb") as dst:
                found = hash_stream(src, dst)
    if _identity(path) == before:
        _known[before] = found
        if copy_to is not None:
            _known[_identity(copy_to)] = found
    return found


def _identity(path: Path) -> tuple[object, ...]:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def hash_stream(src: BinaryIO | Any, dst: BinaryIO | Any = None) -> Hashes:
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
