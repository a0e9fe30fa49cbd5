"""The catalog reader's pure parts (store/bucket.py): the index and files map are checked
against catalog format 1 and the manifest before anything uses them; versions are found by
name, tag or `latest`; the remote's settings come without params.yaml from MINIO_*."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from seedctl.errors import IntegrityError, RemoteError, RestoreRefused
from seedctl.store.bucket import (
    ENTRY_FILES,
    NO_CATALOG,
    bucket_settings,
    has_git_history,
    parse_files_map,
    parse_index,
)

SHA = {name: hashlib.sha256(name.encode()).hexdigest() for name in ENTRY_FILES}
ENV = {"MINIO_ENDPOINT": "127.0.0.1:9000", "MINIO_ACCESS_KEY": "access-key-1", "MINIO_SECRET_KEY": "secret-key-1"}


def entry(version: str, tag: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "version": version,
        "tag": tag,
        "created_at": "2026-12-07T10:00:00Z",
        "rows": 3,
        "tables": {"t": 3},
        "size_bytes": 100,
        "files": 2,
        "sha256": dict(SHA),
        **extra,
    }


def index(*entries: dict[str, Any], latest: str | None = None) -> bytes:
    return json.dumps(
        {"catalog_format": 1, "latest": latest or entries[0]["version"], "versions": list(entries)}
    ).encode()


def test_versions_are_found_by_name_tag_date_part_and_latest() -> None:
    found = parse_index(
        index(entry("2026.12.07-bbbb", "seeds/v2026.12.07-2"), entry("2026.12.01-aaaa", "seeds/v2026.12.01")), "i"
    )
    assert [e.version for e in found.versions] == ["2026.12.07-bbbb", "2026.12.01-aaaa"]
    assert found.find("latest").version == "2026.12.07-bbbb"  # type: ignore[union-attr]
    for name in ("2026.12.01-aaaa", "seeds/v2026.12.01", "v2026.12.01", "2026.12.01"):
        assert found.find(name).version == "2026.12.01-aaaa"  # type: ignore[union-attr]
    assert found.find("2026.11.30") is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"catalog_format": 1, "versions": [', "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"catalog_format": 0, "versions": []}).encode(), "catalog_format 0"),
        (json.dumps({"catalog_format": 1}).encode(), "no versions list"),
        (index(entry("../../etc")), "no valid version name"),
        (index(entry("files")), "no valid version name"),
        (index(entry("2026.01.01-a", sha256={})), "lacks the sha256"),
        (index(entry("2026.01.01-a", rows="3")), "must be integers"),
        (index(entry("2026.01.01-a"), entry("2026.01.01-a")), "listed twice"),
        (index(entry("2026.01.01-a"), latest="2026.01.02-b"), "latest '2026.01.02-b' is not one of its versions"),
    ],
)
def test_a_damaged_index_is_refused_with_the_catalog_advice(data: bytes, why: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        parse_index(data, "s3://b/seedctl/index.json")
    assert why in caught.value.message and "s3://b/seedctl/index.json" in caught.value.message
    assert caught.value.hint == f"delete it (e.g. `mc rm <alias>/b/seedctl/index.json`), then {NO_CATALOG}"


def test_an_index_of_a_newer_catalog_format_asks_for_a_newer_seedctl() -> None:
    with pytest.raises(RestoreRefused, match="catalog format 2; this seedctl reads up to 1"):
        parse_index(json.dumps({"catalog_format": 2, "versions": []}).encode(), "i")


def test_an_empty_index_lists_nothing() -> None:
    empty = parse_index(json.dumps({"catalog_format": 1, "latest": None, "versions": []}).encode(), "i")
    assert empty.versions == [] and empty.find("latest") is None


MANIFEST = {
    "version": "2026.01.01-a",
    "schema_sha256": "c" * 64,
    "tables": {"t": {"parts": [{"file": "data/t.parquet", "sha256": "d" * 64, "size_bytes": 10, "md5": "e" * 32}]}},
}


def files_map(**change: Any) -> bytes:
    """A files map of MANIFEST, with data/t.parquet's entry changed as given (None: not an object)."""
    data: Any = {"object": f"files/md5/ee/{'e' * 30}", "md5": "e" * 32, "sha256": "d" * 64, "size": 10}
    data = None if change.pop("none", False) else {**data, **change}
    schema = {"object": f"files/md5/ff/{'f' * 30}", "md5": "f" * 32, "sha256": "c" * 64, "size": 5}
    files = {"data/t.parquet": data, "schema.json": schema}
    return json.dumps({"catalog_format": 1, "version": "2026.01.01-a", "files": files}).encode()


def test_the_files_map_names_every_file_with_the_manifests_hashes() -> None:
    refs = parse_files_map(files_map(), "2026.01.01-a", MANIFEST, "f")
    assert refs["data/t.parquet"].object == f"files/md5/ee/{'e' * 30}" and refs["schema.json"].size == 5


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"none": True}, "entry 'data/t.parquet' is not an object"),
        ({"object": "../../x"}, "entry 'data/t.parquet' is malformed"),  # only the md5's own key
        ({"object": f"files/md5/aa/{'a' * 30}"}, "entry 'data/t.parquet' is malformed"),
        ({"md5": "E" * 32}, "entry 'data/t.parquet' is malformed"),
        ({"size": -1}, "entry 'data/t.parquet' is malformed"),
        ({"sha256": "0" * 64}, "does not agree with the manifest about data/t.parquet"),
        ({"size": 9}, "does not agree with the manifest about data/t.parquet"),
    ],
)
def test_a_files_map_that_disagrees_with_the_manifest_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        parse_files_map(files_map(**change), "2026.01.01-a", MANIFEST, "s3://b/p/2026.01.01-a/files.json")
    assert why in caught.value.message and "version 2026.01.01-a" in caught.value.message
    assert "`seedctl versions --from-bucket`" in (caught.value.hint or "")


def test_a_files_map_entry_outside_seeds_is_refused() -> None:
    doc = json.loads(files_map())
    doc["files"]["../../outside"] = doc["files"]["data/t.parquet"]
    with pytest.raises(IntegrityError, match="'../../outside' is not a path inside seeds/"):
        parse_files_map(json.dumps(doc).encode(), "2026.01.01-a", MANIFEST, "f")


def test_a_files_map_missing_a_file_or_of_another_version_is_refused() -> None:
    doc = json.loads(files_map())
    del doc["files"]["schema.json"]
    with pytest.raises(IntegrityError, match="does not name schema.json"):
        parse_files_map(json.dumps(doc).encode(), "2026.01.01-a", MANIFEST, "f")
    with pytest.raises(IntegrityError, match="files map of this version"):
        parse_files_map(files_map(), "2026.01.02-b", MANIFEST, "f")


def test_without_params_yaml_the_bucket_and_prefix_come_from_minio_variables(tmp_path: Path) -> None:
    default = bucket_settings(tmp_path, ENV)
    assert (default.bucket, default.prefix, default.url) == ("seeds", "seedctl", "s3://seeds/seedctl")
    chosen = bucket_settings(tmp_path, {**ENV, "MINIO_BUCKET": "backups", "MINIO_PREFIX": "/prod/"})
    assert chosen.url == "s3://backups/prod"
    (tmp_path / ".env").write_text("MINIO_PREFIX=from-dotenv\n")
    assert bucket_settings(tmp_path, ENV).prefix == "from-dotenv"
    with pytest.raises(RemoteError, match="MINIO_ENDPOINT is not set"):
        bucket_settings(tmp_path, {})


def test_in_a_checkout_params_yaml_gives_the_storage(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "storage:\n  bucket: mine\n  prefix: here\nsources:\n  t:\n    table: public.t\n"
    )
    assert bucket_settings(tmp_path, {**ENV, "MINIO_PREFIX": "ignored"}).url == "s3://mine/here"


def test_git_history_is_a_git_directory_here_or_above(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert not has_git_history(inner)
    (tmp_path / "a" / ".git").mkdir()
    assert has_git_history(inner)
