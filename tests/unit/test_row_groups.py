"""Row groups of large values: bounded in bytes, and still a function of the rows alone."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seedctl.config import Backup, Source
from seedctl.pg.catalog import Column, TableSchema
from seedctl.pg.pgtypes import arrow_field, codec_for
from seedctl.snapshot import writer
from seedctl.snapshot.writer import PartFiles, group_cut, value_bytes

COLUMNS = [
    Column("id", "integer", "int4", -1, True),
    Column("doc", "text", "text", -1, False),
    Column("raw", "bytea", "bytea", -1, False),
]
TABLE = TableSchema("public", "docs", COLUMNS, ["id"])


def test_value_bytes_counts_text_and_binary_only() -> None:
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1, 2, 3], pa.int32()), pa.array(["ab", None, ""]), pa.array([b"xyz", b"", None])],
        names=["id", "doc", "raw"],
    )
    assert value_bytes(batch).to_pylist() == [5, 0, 0]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], None),
        ([1] * 5, None),  # neither 8 rows nor 100 bytes yet: wait for more
        ([1] * 8, 8),  # batch_rows rows
        ([1] * 9, 8),
        ([40, 40, 40, 1], 2),  # the third row would pass 100 bytes
        ([500, 1], 1),  # one row larger than the limit still makes a group, alone
        ([30] * 3 + [10], None),  # exactly 100: not past it
        ([10] * 20, 8),  # the row count comes first
    ],
)
def test_group_cut(sizes: list[int], expected: int | None) -> None:
    assert group_cut(pa.array(sizes, pa.int64()), 8, 100) == expected


def _write(path: Path, table: pa.Table, chunk_rows: list[int]) -> list[int]:
    codecs = [codec_for(c) for c in COLUMNS]
    schema = pa.schema([arrow_field(c, k) for c, k in zip(COLUMNS, codecs)])
    files = PartFiles(path, "docs", Source(table="public.docs"), TABLE, schema, codecs, Backup(batch_rows=1024))
    offset = 0
    for n in chunk_rows:
        files.add(table.slice(offset, n).combine_chunks().to_batches()[0])
        offset += n
    (part,) = files.finish()
    meta = pq.ParquetFile(path.parent / part.file).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_large_values_make_smaller_row_groups_whatever_the_batching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "ROW_GROUP_BYTES", 50_000)
    rng = random.Random(7)
    n = 3000
    docs = ["x" * rng.choice([0, 10, 100, 5000, 60_000]) for _ in range(n)]
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int32()),
            "doc": docs,
            "raw": pa.array([b"\x00" * rng.choice([0, 3, 900]) for _ in range(n)]),
        }
    )

    one = tmp_path / "a" / "data"
    groups = _write(one, table, [n])
    splits = []
    left = n
    while left:
        splits.append(min(left, rng.randint(1, 700)))
        left -= splits[-1]
    other = tmp_path / "b" / "data"
    assert _write(other, table, splits) == groups
    assert (one / "docs.parquet").read_bytes() == (other / "docs.parquet").read_bytes()

    assert sum(groups) == n and max(groups) <= 1024 and len(groups) > n // 1024 + 1
    back = pq.read_table(one / "docs.parquet")
    assert back.column("doc").to_pylist() == docs
    # Every group but a single-row one stays within the limit.
    sizes = value_bytes(back.combine_chunks().to_batches()[0]).to_pylist()
    start = 0
    for rows in groups:
        assert rows == 1 or sum(sizes[start : start + rows]) <= 50_000
        start += rows


def test_short_values_keep_exactly_batch_rows_per_group(tmp_path: Path) -> None:
    n = 5000
    table = pa.table({"id": pa.array(range(n), pa.int32()), "doc": ["USD/COP"] * n, "raw": [b"ab"] * n})
    assert _write(tmp_path / "data", table, [1000, 3000, 1000]) == [1024, 1024, 1024, 1024, 904]
