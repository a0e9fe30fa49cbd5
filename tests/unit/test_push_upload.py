"""seedctl's upload of the objects the remote lacks: listings last, cache files checked
against their names, DVC's encryption settings passed on. A recording client stands in for
S3 here; the end-to-end push runs against moto_server in tests/func."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from seedctl.errors import RemoteError
from seedctl.store.objects import RemoteObject
from seedctl.store.push import _upload
from seedctl.store.settings import RemoteSettings

SETTINGS = RemoteSettings(
    name="minio",
    url="s3://seeds/seedctl",
    endpoint_url="http://127.0.0.1:9",
    access_key="a",
    secret_key="s",
    bucket="seeds",
    prefix="seedctl",
    sse="AES256",
)


class Recorder:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_object(self, **request: Any) -> None:
        request["Body"] = request["Body"].read()
        with self._lock:
            self.puts.append(request)


def cached(tmp_path: Path, content: bytes, suffix: str = "") -> tuple[str, RemoteObject]:
    md5 = hashlib.md5(content).hexdigest()  # noqa: S324 - DVC's content address
    path = tmp_path / f"{md5}{suffix}"
    path.write_bytes(content)
    return f"seedctl/files/md5/{md5[:2]}/{md5[2:]}{suffix}", RemoteObject(f"data/{md5[:6]}", len(content), path)


def test_listings_go_up_after_every_file(tmp_path: Path) -> None:
    objects = dict(
        [cached(tmp_path, b'[{"md5": "x"}]', ".dir")]
        + [cached(tmp_path, f"part {i}".encode()) for i in range(40)]
        + [cached(tmp_path, b'[{"md5": "y"}]', ".dir")]
    )
    client = Recorder()
    _upload(client, SETTINGS, objects)

    keys = [put["Key"] for put in client.puts]
    assert sorted(keys) == sorted(objects)
    assert all(k.endswith(".dir") for k in keys[-2:]) and not any(k.endswith(".dir") for k in keys[:-2])
    for put in client.puts:
        assert put["Bucket"] == "seeds" and put["ServerSideEncryption"] == "AES256"
        assert put["ContentLength"] == len(put["Body"])
        assert base64.b64decode(put["ContentMD5"]).hex() == put["Key"].split("/")[-2] + put["Key"].split("/")[-1][:30]


def test_a_damaged_cache_file_is_not_uploaded_and_no_listing_follows(tmp_path: Path) -> None:
    good_key, good = cached(tmp_path, b"good bytes")
    bad_key, bad = cached(tmp_path, b"the bytes it was named for")
    bad.cache.write_bytes(b"other bytes")
    listing_key, listing = cached(tmp_path, b"[]", ".dir")
    client = Recorder()

    with pytest.raises(RemoteError) as refused:
        _upload(client, SETTINGS, {good_key: good, bad_key: bad, listing_key: listing})

    assert str(bad.cache) in refused.value.message and "does not match its md5" in refused.value.message
    assert "delete that cache file" in (refused.value.hint or "")
    assert [put["Key"] for put in client.puts] == [good_key]
