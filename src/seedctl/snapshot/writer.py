"""The Parquet writer of the export: a table's rows, in key order, into deterministic files.

Each file's footer also records its time column's range and rows per month (facts.py).
Every row group holds exactly `backup.batch_rows` rows (fewer where large values reach
ROW_GROUP_BYTES) and is written from one contiguous chunk with fixed writer settings, so
the same rows always give the same bytes. A partitioned source gets one file per period of
its time column (partition.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seedctl.config import Backup, Source
from seedctl.errors import ExportError
from seedctl.layout import DATA_DIR
from seedctl.pg.catalog import TableSchema
from seedctl.pg.pgtypes import Codec, to_storage
from seedctl.snapshot.facts import TIME_FACTS_KEY, RowChecks, TimeProfile, is_dated
from seedctl.snapshot.partition import period_name, period_numbers, runs

# The one file of a partitioned table without rows: data/<source>/empty.parquet, so a
# partitioned table's files are always under its directory.
EMPTY_PERIOD = "empty"


@dataclass(frozen=True)
class Part:
    """One data file of a table: all its rows, or one period's (see partition.py)."""

    file: str  # relative to the seeds directory
    rows: int
    period: str | None = None  # 2024-03, 2024, early, late, undated; None: unpartitioned
    fingerprint: str | None = None  # its rows' exact hash sum (reuse.py); None: never reused

    def to_dict(self) -> dict[str, Any]:
        found = {"file": self.file, "rows": self.rows, "period": self.period}
        return found if self.fingerprint is None else {**found, "fingerprint": self.fingerprint}


class PartFiles:
    """Writes a table's rows, parsed from COPY in key order, into one file per period of
    the time column (or one file).

    Every row group holds exactly `batch_rows` rows (the last of a file fewer), or fewer
    where their text and binary values reach ROW_GROUP_BYTES (see group_cut), and is
    written from one contiguous chunk: a file's bytes depend only on its rows.
    """

    def __init__(
        self,
        data_dir: Path,
        name: str,
        source: Source,
        table: TableSchema,
        schema: pa.Schema,
        codecs: list[Codec],
        backup: Backup,
    ) -> None:
        self.data_dir, self.source, self.granularity = data_dir, name, source.partition
        self.schema, self.codecs, self.backup = schema, codecs, backup
        self.time_index = next((i for i, c in enumerate(table.columns) if c.name == source.time_column), None)
        self.dated = self.time_index is not None and is_dated(schema.field(self.time_index))
        self.profile: TimeProfile | None = None
        o = source.ohlcv
        self.checks = RowChecks(table.primary_key, [o.open, o.high, o.low, o.close] if o else None)
        self.parts: list[Part] = []
        self.period: int | None = None
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.RecordBatch] = []
        self.pending_sizes: list[pa.Array] = []  # value_bytes of the pending rows
        self.pending_rows = self.rows = 0

    def add(self, parsed: pa.RecordBatch) -> None:
        """One batch as parsed from COPY (csv types)."""
        stored = pa.RecordBatch.from_arrays(
            [to_storage(parsed.column(i), k) for i, k in enumerate(self.codecs)], schema=self.schema
        )
        self.checks.add(stored)
        if self.granularity == "none" or self.time_index is None:
            self._add(None, stored)
            return
        time_codec = self.codecs[self.time_index]
        periods = period_numbers(parsed.column(self.time_index), time_codec.encoding, self.granularity)
        for period, offset, length in runs(periods):
            self._add(period, stored.slice(offset, length))

    def _add(self, period: int | None, batch: pa.RecordBatch) -> None:
        if self.writer is None or period != self.period:
            self._open(period)
        if self.profile is not None:
            self.profile.add(batch.column(self.time_index))
        self.pending.append(batch)
        self.pending_sizes.append(value_bytes(batch))
        self.pending_rows += batch.num_rows
        self.rows += batch.num_rows
        sizes = pa.concat_arrays(self.pending_sizes)
        while (cut := group_cut(sizes, self.backup.batch_rows, ROW_GROUP_BYTES)) is not None:
            buffered = pa.Table.from_batches(self.pending, self.schema)
            self._write(buffered.slice(0, cut))
            rest = buffered.slice(cut).combine_chunks()
            self.pending, self.pending_rows = rest.to_batches(), rest.num_rows
            sizes = sizes.slice(cut)
        self.pending_sizes = [sizes]

    def finish(self) -> list[Part]:
        if self.writer is None:  # an empty table still gets its (empty) file, where its files go
            self._open(None if self.granularity == "none" or self.time_index is None else EMPTY_PERIOD)
        self._close_part()
        return self.parts

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _open(self, period: int | str | None) -> None:
        if self.writer is not None:
            self._close_part()
            if not isinstance(period, int) or self.period is None or period <= self.period:
                raise ExportError(
                    f"table {self.source}: rows did not arrive in {self.granularity} order",
                    "report this; the snapshot was not written",
                )
        name = period if isinstance(period, str) or period is None else period_name(period, self.granularity)
        rel = f"{DATA_DIR}/{self.source}.parquet" if name is None else f"{DATA_DIR}/{self.source}/{name}.parquet"
        path = self.data_dir.parent / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(path, self.schema, **writer_options(self.backup, self.schema))
        self.period, self.rows = (period if isinstance(period, int) else None), 0
        self.profile = TimeProfile(self.schema.field(self.time_index)) if self.dated else None
        self.parts.append(Part(rel, 0, name))

    def _close_part(self) -> None:
        assert self.writer is not None
        if self.pending_rows:
            self._write(pa.Table.from_batches(self.pending, self.schema))
        self.pending, self.pending_sizes, self.pending_rows = [], [], 0
        if self.profile is not None:
            # In the file's own footer (not in schema.json, which every weekly push uploads).
            self.writer.add_key_value_metadata({TIME_FACTS_KEY: json.dumps(self.profile.to_dict(), sort_keys=True)})
        self.parts[-1] = replace(self.parts[-1], rows=self.rows)
        self.close()

    def _write(self, rows: pa.Table) -> None:
        # One contiguous chunk per row group: pyarrow's bytes depend on chunking.
        assert self.writer is not None
        self.writer.write_table(rows.combine_chunks(), row_group_size=self.backup.batch_rows)


# Text and binary bytes a row group may hold, besides its rows' fixed-width values. Keeps a
# row group (written, then read back a group at a time by restore) within memory and within
# Arrow's 2 GiB limit for one string array, whatever the values' sizes: 131,072 rows of
# 20 KB documents would be 2.6 GB. Tables of short values never reach it: their row groups
# are exactly batch_rows rows, as before.
ROW_GROUP_BYTES = 64 << 20


def value_bytes(batch: pa.RecordBatch) -> pa.Array:
    """Per row: the bytes of its text and binary values (int64; 0 for NULL)."""
    total = pa.nulls(batch.num_rows, pa.int64()).fill_null(0)
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_binary(column.type):
            total = pc.add(total, pc.fill_null(pc.binary_length(column), 0).cast(pa.int64()))
    return total


def group_cut(sizes: pa.Array, batch_rows: int, limit: int) -> int | None:
    """Rows of the next row group given the value_bytes of the rows waiting to be written,
    or None while it is not yet known: batch_rows rows, or fewer when their values would
    pass `limit` (at least one row). It depends only on those rows, never on how they were
    batched, so the same rows always give the same row groups."""
    if len(sizes) == 0:
        return None
    if (pc.sum(sizes).as_py() or 0) > limit:  # the common case skips the running sum
        over = pc.index(pc.greater(pc.cumulative_sum(sizes), limit), True).as_py()
        if 0 <= over < batch_rows:
            return max(over, 1)
    return batch_rows if len(sizes) >= batch_rows else None


def writer_options(backup: Backup, schema: pa.Schema) -> dict[str, Any]:
    """Parquet writer settings: fixed (the bytes must not depend on anything else) and
    chosen per column type, as measured (docs/BENCHMARKS.md):

    - integers, dates, timestamps and decimals of up to 18 digits (stored as integers):
      DELTA_BINARY_PACKED. Sorted times and prices that move by small steps become small
      deltas (a dictionary of 5-minute timestamps costs ~300x more), and every Parquet
      reader supports it.
    - text: dictionary (symbols, categories), falling back to plain for unique values.
    - floats, booleans, wide decimals: plain.
    Statistics stay on: the manifest takes its null counts from them.
    """
    delta, dictionary = {}, []
    for f in schema:
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_temporal(t) or (pa.types.is_decimal(t) and t.precision <= 18):
            delta[f.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            dictionary.append(f.name)
    return {
        "compression": None if backup.compression == "none" else backup.compression,
        "compression_level": backup.compression_level,
        "store_decimal_as_integer": True,
        "write_statistics": True,
        "use_dictionary": dictionary,
        "column_encoding": delta or None,
    }
