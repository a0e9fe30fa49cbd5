"""The object keys seedctl computes without starting DVC are the ones DVC itself uses."""

from __future__ import annotations

from pathlib import Path

from dvc.repo import Repo

from seedctl.store.dvc import object_cache
from seedctl.store.s3 import object_key, objects_prefix

MD5 = "0123456789abcdef0123456789abcdef"


def test_object_keys_and_cache_paths_are_dvcs_own(tmp_path: Path) -> None:
    Repo.init(str(tmp_path), no_scm=True).close()
    with Repo(str(tmp_path)) as repo:
        with repo.config.edit() as conf:
            conf["remote"]["minio"] = {"url": "s3://seeds/seedctl"}
    with Repo(str(tmp_path)) as repo:
        remote = repo.cloud.get_remote_odb("minio")
        for md5 in (MD5, f"{MD5}.dir"):
            assert f"seeds/{object_key('seedctl', md5)}" == remote.oid_to_path(md5)
        assert f"seeds/{objects_prefix('seedctl')}" == f"{remote.path}/"
        local = repo.cache.local.oid_to_path(MD5)
    assert object_cache(tmp_path)(MD5) == Path(local)
