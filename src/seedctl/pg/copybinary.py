"""Stored columns as PostgreSQL's binary COPY format, for the restore's load.

The server reads binary COPY about twice as fast as text or CSV (no parsing of numerics
and timestamps: docs/BENCHMARKS.md), so a table whose every column maps exactly is loaded
this way. A value maps exactly when its stored form is the type's binary form after
fixed arithmetic:

- bool, int2/4/8, float4/8: big-endian bytes (NaN, infinities and -0.0 included);
- numeric(p,s) with p <= 18, stored as decimal128: PostgreSQL's base-10000 digits, always
  the same number of them (numeric_recv strips the leading and trailing zeros);
- date, timestamp, timestamptz: days or microseconds since 2000-01-01; the stored
  infinities are PostgreSQL's own (INT32/INT64 MIN and MAX) and stay as they are;
- text, varchar, bpchar stored as their text: their binary form is that text.

Anything else (numeric NaN or wider than 18 digits, json, uuid, arrays, enums, ...) keeps
the text path (to_copy_csv): `binary_layout` says None, and the caller uses CSV.
Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from seedctl import kernels

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400_000_000
_NULL = (-1).to_bytes(4, "big", signed=True)
# format_type() of the types whose binary form is their text (not their arrays or domains).
_TEXT_TYPES = re.compile(r"text|(character varying|character|varchar|bpchar)(\(\d+\))?")
_FIXED = {
    pa.bool_(): ">u1",
    pa.int16(): ">i2",
    pa.int32(): ">i4",
    pa.int64(): ">i8",
    pa.float32(): ">f4",
    pa.float64(): ">f8",
}

Encoder = Callable[[pa.Array], pa.Array]  # a column -> one binary value per row: length + payload


def binary_layout(schema: pa.Schema) -> list[Encoder] | None:
    """One encoder per column when every column of the stored schema maps exactly, else None."""
    encoders = [_encoder(field) for field in schema]
    mapped = [e for e in encoders if e is not None]
    return mapped if len(mapped) == len(encoders) else None


def encode_batch(batch: pa.RecordBatch, encoders: list[Encoder]) -> memoryview:
    """The batch's rows in binary COPY format (without the file header and trailer)."""
    count = np.full(batch.num_rows, batch.num_columns, dtype=">i2")
    fields = [_fixed_binary(count)] + [encode(batch.column(i)) for i, encode in enumerate(encoders)]
    matrices = [m for f in fields if (m := _one_width(f)) is not None]
    if len(matrices) == len(fields):
        # Every field of one width (numbers without NULLs, codes like 'USD/COP'): the rows are
        # side by side columns of bytes, a third of the cost of joining them value by value.
        return np.hstack(matrices).reshape(-1).data
    rows = kernels.call("binary_join_element_wise", *fields, b"")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def _one_width(values: pa.Array) -> np.ndarray | None:
    """Binary values as an (n, width) byte matrix when they all have the same width, else None."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    total = int(offsets[-1] - offsets[0])
    if n == 0 or total % n or not (np.diff(offsets) == total // n).all():
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(n, total // n)


def _encoder(field: pa.Field) -> Encoder | None:
    t = field.type
    pg_type = (field.metadata or {}).get(b"pg_type", b"").decode()
    if t in _FIXED:
        return _fixed(_FIXED[t])
    if pa.types.is_decimal128(t) and t.precision <= 18:
        return _numeric(t.precision, t.scale)
    if pa.types.is_date32(t):
        return _shifted(">i4", np.int32, _PG_EPOCH_DAYS, np.iinfo(np.int32))
    if pa.types.is_timestamp(t) and t.unit == "us":
        return _shifted(">i8", np.int64, _PG_EPOCH_US, np.iinfo(np.int64))
    if (pa.types.is_string(t) or pa.types.is_large_string(t)) and _TEXT_TYPES.fullmatch(pg_type):
        return _text
    return None


def _with_nulls(array: pa.Array, values: pa.Array) -> pa.Array:
    """values (binary, one per row) with NULL's length -1 where array is null."""
    if array.null_count == 0:
        return values
    return kernels.call("if_else", kernels.is_null(array), pa.scalar(_NULL, pa.binary()), values)


def _fixed_binary(values: np.ndarray) -> pa.Array:
    """Fixed-width values (big-endian numbers or records) as binary values of their own width."""
    width = values.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [None, pa.py_buffer(values.tobytes())])
    return kernels.cast(fixed, pa.binary())


def _prefixed(payload: np.ndarray) -> pa.Array:
    """Each value preceded by its length (all the same), as binary values."""
    width = payload.dtype.itemsize
    record = np.empty(len(payload), dtype=[("len", ">i4"), ("value", payload.dtype)])
    record["len"] = width
    record["value"] = payload
    return _fixed_binary(record)


def _numpy(array: pa.Array, dtype: type) -> np.ndarray:
    """The values of a fixed-width array (nulls as whatever the buffer holds)."""
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * np.dtype(dtype).itemsize
    )


def _fixed(big_endian: str) -> Encoder:
    def encode(array: pa.Array) -> pa.Array:
        if pa.types.is_boolean(array.type):
            values = np.asarray(kernels.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=">u1")
        else:
            values = kernels.fill_null(array, 0).to_numpy().astype(big_endian)
        return _with_nulls(array, _prefixed(values))

    return encode


def _shifted(big_endian: str, native: type, shift: int, limits: np.iinfo) -> Encoder:
    """Epoch days/microseconds since 1970 -> since 2000; the infinities stay as they are."""

    def encode(array: pa.Array) -> pa.Array:
        values = _numpy(kernels.fill_null(array, 0) if array.null_count else array, native)
        infinite = (values == limits.min) | (values == limits.max)
        moved = np.where(infinite, values, values - native(shift))
        return _with_nulls(array, _prefixed(moved.astype(big_endian)))

    return encode


def _numeric(precision: int, scale: int) -> Encoder:
    """decimal128(p <= 18, s) -> numeric: ndigits, weight, sign, dscale, then base-10000
    digits, always as many as the type can need: those of the integer part, then those of
    the fraction, which start at the decimal point (the unscaled value fits int64)."""
    integer_groups = max(1, -(-(precision - scale) // 4))
    fraction_groups = -(-scale // 4)
    groups = integer_groups + fraction_groups
    record = np.dtype(
        [("len", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2")]
        + [(f"d{i}", ">i2") for i in range(groups)]
    )
    base = np.uint64(10_000)

    def encode(array: pa.Array) -> pa.Array:
        filled = kernels.fill_null(array, 0) if array.null_count else array
        low = np.frombuffer(filled.buffers()[1], dtype="<i8", count=2 * len(filled), offset=filled.offset * 16)[::2]
        whole, fraction = np.divmod(np.abs(low).astype(np.uint64), np.uint64(10**scale))
        out = np.empty(len(filled), dtype=record)
        out["len"] = record.itemsize - 4
        out["ndigits"] = groups
        out["weight"] = integer_groups - 1
        out["sign"] = np.where(low < 0, 0x4000, 0)
        out["dscale"] = scale
        for i in range(integer_groups):  # most significant first
            out[f"d{i}"] = (whole // base ** np.uint64(integer_groups - 1 - i)) % base
        for k in range(fraction_groups):  # decimal places 4k+1 .. 4k+4
            rest = scale - 4 * (k + 1)
            digit = (
                (fraction // np.uint64(10**rest)) % base
                if rest >= 0
                else (fraction % np.uint64(10 ** (scale - 4 * k))) * np.uint64(10**-rest)
            )
            out[f"d{integer_groups + k}"] = digit
        return _with_nulls(array, _fixed_binary(out))

    return encode


def _text(array: pa.Array) -> pa.Array:
    """Each value as its length and its UTF-8 bytes: the string's bytes, moved 4 bytes further
    per row, with the lengths written into the gaps."""
    if pa.types.is_large_string(array.type):
        array = kernels.cast(array, pa.string())
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=n + 1, offset=array.offset * 4)
    lengths = np.diff(offsets).astype(np.int32)
    if array.null_count:
        lengths = np.where(kernels.is_null(array).to_numpy(zero_copy_only=False), 0, lengths)
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if array.buffers()[2] else None
    moved = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths + 4, out=moved[1:])
    out = np.empty(int(moved[-1]), dtype=np.uint8)
    prefix = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
    for k in range(4):
        out[moved[:-1] + k] = prefix[:, k]
    if data is not None and len(data):
        source = _kept(data, offsets, lengths) if array.null_count else data
        # Every byte of row i moves 4 bytes further per row up to and including i.
        out[np.arange(len(source)) + np.repeat(4 * np.arange(1, n + 1), lengths)] = source
    values = pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(moved), pa.py_buffer(out)])
    return _with_nulls(array, values)


def _kept(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The bytes of the non-null values (a null may still own bytes in the buffer)."""
    owned = np.diff(offsets)
    keep = np.repeat(lengths == owned, owned)
    return data[keep]
