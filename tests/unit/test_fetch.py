"""fetch.py without a remote: a DVC project in a temp dir, its cache written by hand.

Bad bytes are moved aside (never deleted) and replaced from the cache; a copy of another
snapshot's file that the cache holds is simply replaced; a damaged cache object is never
placed in seeds/. And push's check of the remote: an object whose ETag (its md5) is not
the md5 its key names is corrupt, even with the right size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from seedctl.store.fetch import Quarantine, Wanted, fetch
from seedctl.store.objects import problem as _problem
from seedctl.store.settings import RemoteSettings

GOOD, OTHER, BAD = b"good parquet bytes", b"another snapshot's bytes", b"damaged!"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - DVC's content address


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True)
    (tmp_path / "seeds" / "data").mkdir(parents=True)
    return tmp_path


def cache(project: Path, data: bytes, name: str | None = None) -> Path:
    name = name or md5(data)
    path = project / ".dvc" / "cache" / "files" / "md5" / name[:2] / name[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def want(data: bytes = GOOD) -> Wanted:
    return Wanted("data/t.parquet", hashlib.sha256(data).hexdigest(), len(data), md5(data), "t")


def run(project: Path) -> tuple[dict, dict, list[Path]]:
    q = Quarantine(project / ".dvc" / "tmp" / "quarantine")
    got = fetch(project, project / "seeds", [want()], remote=None, quarantine=q)
    return got.found, got.failures, [p for p in q.moved]


def test_damaged_workspace_file_is_quarantined_and_replaced_from_the_cache(project: Path) -> None:
    cache(project, GOOD)
    target = project / "seeds" / "data" / "t.parquet"
    target.write_bytes(BAD)

    found, failures, moved = run(project)

    assert found == {"data/t.parquet": "cache"} and failures == {}
    assert target.read_bytes() == GOOD
    assert [p.read_bytes() for p in moved] == [BAD]
    assert moved[0].is_relative_to(project / ".dvc" / "tmp" / "quarantine")


def test_another_snapshots_copy_is_replaced_not_quarantined(project: Path) -> None:
    cache(project, GOOD)
    cache(project, OTHER)
    (project / "seeds" / "data" / "t.parquet").write_bytes(OTHER)

    found, _, moved = run(project)

    assert found == {"data/t.parquet": "cache"} and moved == []
    assert (project / "seeds" / "data" / "t.parquet").read_bytes() == GOOD


def test_damaged_cache_object_is_set_aside_never_placed(project: Path) -> None:
    cached = cache(project, BAD, name=md5(GOOD))  # under the good name, as `dvc pull` leaves it

    found, failures, moved = run(project)

    assert found == {} and failures["data/t.parquet"].cause == "local-only"
    assert not (project / "seeds" / "data" / "t.parquet").exists()
    assert not cached.exists() and [p.read_bytes() for p in moved] == [BAD]


def test_matching_file_is_left_alone(project: Path) -> None:
    target = project / "seeds" / "data" / "t.parquet"
    target.write_bytes(GOOD)
    before = target.stat().st_mtime_ns

    found, failures, moved = run(project)

    assert found == {"data/t.parquet": "local"} and failures == {} and moved == []
    assert target.stat().st_mtime_ns == before


SETTINGS = RemoteSettings(
    name="minio", url="s3://b/p", endpoint_url="http://h:9000", access_key="a", secret_key="s", bucket="b", prefix="p"
)
KEY = f"p/files/md5/{md5(GOOD)[:2]}/{md5(GOOD)[2:]}"


@pytest.mark.parametrize(
    ("size", "etag", "sse", "problem"),
    [
        (len(GOOD), f'"{md5(GOOD)}"', "", None),
        (len(GOOD), f'"{md5(BAD)}"', "", "corrupt"),
        (len(GOOD), f'"{md5(BAD)}-2"', "", None),  # multipart: the ETag is not an md5
        (len(GOOD), f'"{md5(BAD)}"', "aws:kms", None),  # encrypted: the ETag is not an md5
        (len(GOOD) - 1, f'"{md5(GOOD)}"', "", "bytes in the remote"),
        (None, "", "", "not in the remote"),
    ],
)
def test_remote_object_problem(size: int | None, etag: str, sse: str, problem: str | None) -> None:
    settings = RemoteSettings(**{**SETTINGS.__dict__, "sse": sse})
    found = _problem(settings, KEY, size, etag, len(GOOD))
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_file_where_a_partition_directory_must_go_is_moved_aside(project: Path) -> None:
    """The table was one file in the checked-out snapshot and is one file per month in this one."""
    cache(project, GOOD)
    (project / "seeds" / "data" / "t").write_bytes(BAD)
    q = Quarantine(project / ".dvc" / "tmp" / "quarantine")
    part = Wanted("data/t/2020-01.parquet", hashlib.sha256(GOOD).hexdigest(), len(GOOD), md5(GOOD), "t")

    got = fetch(project, project / "seeds", [part], remote=None, quarantine=q)

    assert got.found == {"data/t/2020-01.parquet": "cache"}
    assert (project / "seeds" / "data" / "t" / "2020-01.parquet").read_bytes() == GOOD
    assert [p.read_bytes() for p in q.moved] == [BAD]
