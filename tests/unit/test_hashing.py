"""File hashes are read once per process, and never stale: a file changed since is read again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from seedctl.hashing import hash_file, sha256_file


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_rewritten_in_place_with_the_same_size_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    path.write_bytes(b"a" * 1000)
    assert sha256_file(path) == _sha(b"a" * 1000)
    path.write_bytes(b"b" * 1000)
    assert sha256_file(path) == _sha(b"b" * 1000)


def test_a_rewrite_that_puts_the_old_modification_time_back_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    path.write_bytes(b"a" * 1000)
    before = path.stat()
    assert sha256_file(path) == _sha(b"a" * 1000)
    with path.open("r+b") as f:
        f.write(b"z")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time still moves
    assert sha256_file(path) == _sha(b"z" + b"a" * 999)


def test_a_file_replaced_by_another_of_the_same_size_is_read_again(tmp_path: Path) -> None:
    path, other = tmp_path / "part.parquet", tmp_path / "other"
    path.write_bytes(b"a" * 1000)
    other.write_bytes(b"c" * 1000)
    assert sha256_file(path) == _sha(b"a" * 1000)
    other.replace(path)
    assert sha256_file(path) == _sha(b"c" * 1000)


def test_a_copy_is_known_by_its_own_identity(tmp_path: Path) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    source.write_bytes(b"x" * 4096)
    assert hash_file(source, copy_to=copy) == hash_file(copy)
    copy.write_bytes(b"y" * 4096)
    assert sha256_file(copy) == _sha(b"y" * 4096)
    assert sha256_file(source) == _sha(b"x" * 4096)
