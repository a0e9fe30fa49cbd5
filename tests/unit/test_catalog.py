"""The bucket catalog's pure parts: keys, files.json, index lines, ordering, merging."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seedctl.errors import IntegrityError
from seedctl.store.catalog import (
    ENTRY_FILES,
    build_entry,
    dumps,
    entry_key,
    files_document,
    index_entry,
    key,
    lock_facts,
    merged,
    newest_first,
    sha256,
    with_tag,
)

MD5 = {"a": "a" * 32, "b": "b" * 32, "s": "c" * 32}


def manifest(version: str = "2026.12.07-aaaaaaaa", created: str = "2026-12-07T10:00:00Z") -> dict[str, Any]:
    return {
        "version": version,
        "created_at": created,
        "schema_sha256": "5" * 64,
        "schema_md5": MD5["s"],
        "tables": {
            "ohlcv": {
                "rows": 30,
                "parts": [
                    {
                        "file": "data/ohlcv/2026-01.parquet",
                        "rows": 10,
                        "size_bytes": 100,
                        "sha256": "1" * 64,
                        "md5": MD5["a"],
                    },
                    {
                        "file": "data/ohlcv/2026-02.parquet",
                        "rows": 20,
                        "size_bytes": 200,
                        "sha256": "2" * 64,
                        "md5": MD5["b"],
                    },
                ],
            },
            "trades": {"rows": 0, "file": "data/trades.parquet", "size_bytes": 7, "sha256": "3" * 64, "md5": MD5["a"]},
        },
    }


def line(version: str, created: str, tag: str | None = None) -> dict[str, Any]:
    return {"version": version, "created_at": created, "tag": tag}


def test_keys_sit_beside_dvc_objects_under_the_prefix() -> None:
    assert key("seedctl", "index.json") == "seedctl/index.json"
    assert key("", "index.json") == "index.json"
    assert entry_key("seedctl", "2026.12.07-be88c04d", "files.json") == "seedctl/2026.12.07-be88c04d/files.json"
    for bad in ("files", "latest", "../x", "2026/../files", ""):
        with pytest.raises(IntegrityError):
            entry_key("seedctl", bad, "manifest.json")


def test_files_json_maps_every_file_a_restore_reads_to_its_dvc_object() -> None:
    doc = files_document(manifest(), schema_size=42)
    assert doc["catalog_format"] == 1 and doc["version"] == "2026.12.07-aaaaaaaa"
    files = doc["files"]
    assert set(files) == {
        "data/ohlcv/2026-01.parquet",
        "data/ohlcv/2026-02.parquet",
        "data/trades.parquet",
        "schema.json",
    }
    assert files["data/ohlcv/2026-02.parquet"] == {
        "object": f"files/md5/bb/{'b' * 30}",
        "md5": MD5["b"],
        "sha256": "2" * 64,
        "size": 200,
    }
    assert files["schema.json"] == {
        "object": f"files/md5/cc/{'c' * 30}",
        "md5": MD5["s"],
        "sha256": "5" * 64,
        "size": 42,
    }


def test_files_json_takes_md5s_from_the_dvc_listing_when_the_manifest_has_none() -> None:
    old = manifest()
    del old["tables"]["trades"]["md5"]
    with pytest.raises(IntegrityError, match="seeds/data/trades.parquet"):
        files_document(old, schema_size=1)
    doc = files_document(old, schema_size=1, md5_of={"data/trades.parquet": MD5["b"]})
    assert doc["files"]["data/trades.parquet"]["md5"] == MD5["b"]


def test_index_line_sums_rows_and_sizes_and_names_each_entry_file_by_sha256() -> None:
    entry = build_entry(
        json.dumps(manifest()).encode(), b"sums\n", b"params\n", schema_size=42, tag="seeds/v2026.12.07"
    )
    assert list(entry.blobs) == list(ENTRY_FILES) and ENTRY_FILES[-1] == "manifest.json"
    assert json.loads(entry.blobs["files.json"]) == entry.files_doc
    sums = {name: sha256(data) for name, data in entry.blobs.items()}
    got = index_entry(entry.manifest, entry.files_doc, sums, entry.tag)
    assert got == {
        "version": "2026.12.07-aaaaaaaa",
        "tag": "seeds/v2026.12.07",
        "created_at": "2026-12-07T10:00:00Z",
        "rows": 30,
        "tables": {"ohlcv": 30, "trades": 0},
        "size_bytes": 100 + 200 + 7 + 42,
        "files": 4,
        "sha256": sums,
    }


def test_newest_first_by_created_at_then_version() -> None:
    entries = [
        line("2026.01.01-b", "2026-01-01T00:00:00Z"),
        line("2026.01.02-a", "2026-01-02T00:00:00Z"),
        line("2026.01.01-c", "2026-01-01T00:00:00Z"),
    ]
    assert [e["version"] for e in newest_first(entries)] == ["2026.01.02-a", "2026.01.01-c", "2026.01.01-b"]


def test_merge_is_the_same_whichever_writer_merges_last() -> None:
    base = merged(None, [line("v1", "2026-01-01T00:00:00Z", "seeds/v1")])
    a, b = line("v2", "2026-01-02T00:00:00Z"), line("v3", "2026-01-03T00:00:00Z")
    assert merged(merged(base, [a]), [b]) == merged(merged(base, [b]), [a])
    both = merged(merged(base, [a]), [b])
    assert both["latest"] == "v3" and [v["version"] for v in both["versions"]] == ["v3", "v2", "v1"]
    # An older version pushed late does not become latest.
    late = merged(both, [line("v0", "2025-12-31T00:00:00Z")])
    assert late["latest"] == "v3" and late["versions"][-1]["version"] == "v0"


def test_merge_replaces_a_version_keeps_its_known_tag_and_removes() -> None:
    index = merged(None, [line("v1", "2026-01-01T00:00:00Z", "seeds/v1"), line("v2", "2026-01-02T00:00:00Z")])
    again = merged(index, [{**line("v1", "2026-01-01T00:00:00Z"), "rows": 5}])
    assert next(v for v in again["versions"] if v["version"] == "v1") == {
        **line("v1", "2026-01-01T00:00:00Z", "seeds/v1"),
        "rows": 5,
    }
    assert merged(index, remove=["v2"])["latest"] == "v1"
    assert merged(index, remove=["v1", "v2"]) == {"catalog_format": 1, "latest": None, "versions": []}


def test_with_tag_records_the_tag_of_a_listed_version_only() -> None:
    index = merged(None, [line("v1", "2026-01-01T00:00:00Z")])
    tagged = with_tag(index, "v1", "seeds/v2026.01.01")
    assert tagged is not None and tagged["versions"][0]["tag"] == "seeds/v2026.01.01"
    assert with_tag(index, "v9", "seeds/v9") is None and with_tag(None, "v1", "t") is None


def test_documents_are_written_the_same_way_every_time() -> None:
    doc = {"b": 1, "a": [1, 2]}
    assert dumps(doc) == dumps(dict(reversed(list(doc.items())))) and dumps(doc).endswith(b"\n")


def test_lock_facts_read_schema_size_and_data_listing() -> None:
    lock = {
        "stages": {
            "export": {
                "outs": [
                    {"path": "seeds/schema.json", "md5": MD5["s"], "size": 42, "hash": "md5"},
                    {"path": "seeds/data", "md5": "d" * 32 + ".dir", "size": 9, "nfiles": 3, "hash": "md5"},
                ]
            }
        }
    }
    assert lock_facts(lock) == (42, "d" * 32 + ".dir")
    assert lock_facts({}) == (None, None)
