"""PostgreSQL's binary COPY format from stored columns (the restore's fast path): which
columns map, and the bytes, decoded back here by the format's rules. The end-to-end proof,
against a real server, is tc_binary in tests/func/restore/type_coverage.sql."""

from __future__ import annotations

import random
import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from seedctl.pg import copybinary
from seedctl.pg.copybinary import HEADER, TRAILER, binary_layout, encode_batch
from seedctl.pg.pgtypes import DATE_NEG_INF, DATE_POS_INF, TS_NEG_INF, TS_POS_INF


def field(name: str, type_: pa.DataType, pg_type: str) -> pa.Field:
    return pa.field(name, type_, metadata={"pg_type": pg_type, "encoding": "native"})


@pytest.mark.parametrize(
    ("type_", "pg_type", "maps"),
    [
        (pa.int16(), "smallint", True),
        (pa.float64(), "double precision", True),
        (pa.bool_(), "boolean", True),
        (pa.decimal128(18, 18), "numeric(18,18)", True),
        (pa.decimal128(19, 2), "numeric(19,2)", False),  # past int64: the text path
        (pa.date32(), "date", True),
        (pa.timestamp("us", tz="UTC"), "timestamp with time zone", True),
        (pa.string(), "text", True),
        (pa.string(), "character varying(4)", True),
        (pa.string(), "character(4)", True),
        (pa.string(), "character varying", True),
        (pa.string(), "text[]", False),
        (pa.string(), "character varying(4)[]", False),
        (pa.string(), '"char"', False),
        (pa.string(), "name", False),
        (pa.string(), "jsonb", False),
        (pa.string(), "numeric", False),  # unconstrained numeric is stored as its text
        (pa.string(), "public.rainbow", False),  # an enum
    ],
)
def test_which_columns_map(type_: pa.DataType, pg_type: str, maps: bool) -> None:
    assert (binary_layout(pa.schema([field("c", type_, pg_type)])) is not None) is maps
    # one column that does not map sends the whole table the text way
    mixed = pa.schema([field("a", pa.int32(), "integer"), field("c", type_, pg_type)])
    assert (binary_layout(mixed) is not None) is maps


def rows(data: bytes, ncols: int) -> list[list[bytes | None]]:
    """Split binary COPY row data into fields (None: NULL)."""
    out, pos = [], 0
    while pos < len(data):
        (count,) = struct.unpack_from(">h", data, pos)
        assert count == ncols
        pos += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", data, pos)
            pos += 4
            if length == -1:
                fields.append(None)
            else:
                fields.append(data[pos : pos + length])
                pos += length
        out.append(fields)
    return out


def numeric_value(raw: bytes) -> Decimal:
    """numeric_recv's reading of the binary form (as numeric.c: digits in base 10000)."""
    ndigits, weight, sign, dscale = struct.unpack_from(">hhHh", raw)
    digits = struct.unpack_from(f">{ndigits}h", raw, 8)
    assert all(0 <= d < 10_000 for d in digits) and sign in (0, 0x4000)
    value = sum(Decimal(d) * Decimal(10_000) ** (weight - i) for i, d in enumerate(digits))
    return (-value if sign else value).quantize(Decimal(1).scaleb(-dscale))


@pytest.mark.parametrize(("precision", "scale"), [(12, 4), (18, 0), (18, 18), (4, 4), (7, 3), (5, 1), (18, 9), (1, 0)])
def test_numeric_digits_read_back_as_the_value(precision: int, scale: int) -> None:
    rng = random.Random(precision * 100 + scale)
    top = 10**precision - 1
    unscaled = [0, 1, -1, top, -top, *(rng.randint(-top, top) for _ in range(300))]
    values = [Decimal(u).scaleb(-scale) for u in unscaled] + [None]
    t = pa.decimal128(precision, scale)
    batch = pa.record_batch([pa.array(values, t)], schema=pa.schema([field("n", t, f"numeric({precision},{scale})")]))
    encoders = binary_layout(batch.schema)
    assert encoders is not None
    got = [f[0] for f in rows(bytes(encode_batch(batch, encoders)), 1)]
    assert [None if raw is None else numeric_value(raw) for raw in got] == values


def test_fixed_width_time_and_text_bytes() -> None:
    schema = pa.schema(
        [
            field("i", pa.int32(), "integer"),
            field("b", pa.bool_(), "boolean"),
            field("f", pa.float64(), "double precision"),
            field("d", pa.date32(), "date"),
            field("ts", pa.timestamp("us"), "timestamp without time zone"),
            field("t", pa.string(), "text"),
        ]
    )
    batch = pa.record_batch(
        [
            pa.array([-2, None, 7], pa.int32()),
            pa.array([True, False, None]),
            pa.array([-0.0, float("nan"), None]),
            pa.array([10_957, DATE_POS_INF, DATE_NEG_INF], pa.int32()).cast(pa.date32()),  # 2000-01-01
            pa.array([946_684_801_000_000, TS_POS_INF, TS_NEG_INF], pa.int64()).cast(pa.timestamp("us")),
            pa.array(["ë", "", None]),
        ],
        schema=schema,
    )
    batch = batch.set_column(
        4, schema.field(4), pa.array([946684801000000, TS_POS_INF, TS_NEG_INF], pa.timestamp("us"))
    )
    encoders = binary_layout(schema)
    assert encoders is not None
    got = rows(bytes(encode_batch(batch, encoders)), 6)
    assert got[0] == [
        struct.pack(">i", -2),
        b"\x01",
        struct.pack(">d", -0.0),
        struct.pack(">i", 0),  # 2000-01-01 is day 0
        struct.pack(">q", 1_000_000),  # one second after 2000-01-01
        "ë".encode(),
    ]
    assert got[1][0] is None and got[1][1] == b"\x00" and got[1][5] == b""
    assert struct.unpack(">d", got[1][2])[0] != struct.unpack(">d", got[1][2])[0]  # NaN
    # PostgreSQL's infinities are its integer extremes, as the snapshot stores them
    assert got[1][3] == struct.pack(">i", DATE_POS_INF) and got[2][3] == struct.pack(">i", DATE_NEG_INF)
    assert got[1][4] == struct.pack(">q", TS_POS_INF) and got[2][4] == struct.pack(">q", TS_NEG_INF)
    assert got[2][1:3] == [None, None] and got[2][5] is None
    assert HEADER.startswith(b"PGCOPY\n\xff\r\n\x00") and len(HEADER) == 19 and TRAILER == b"\xff\xff"


def test_sliced_arrays_encode_their_own_rows() -> None:
    """Batches filtered or sliced by the restore (a time range) start inside their buffers."""
    schema = pa.schema([field("n", pa.decimal128(12, 4), "numeric(12,4)"), field("t", pa.string(), "text")])
    whole = pa.record_batch(
        [
            pa.array([Decimal("1.0000"), Decimal("-2.5000"), None, Decimal("3.1416")], pa.decimal128(12, 4)),
            pa.array(["a", None, "ccc", "dd"]),
        ],
        schema=schema,
    )
    encoders = binary_layout(schema)
    assert encoders is not None
    got = rows(bytes(encode_batch(whole.slice(1, 3), encoders)), 2)
    assert [None if f[0] is None else numeric_value(f[0]) for f in got] == [Decimal("-2.5"), None, Decimal("3.1416")]
    assert [f[1] for f in got] == [None, b"ccc", b"dd"]


def test_rows_of_one_width_are_the_joined_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where every value of every column has one width (no NULLs, codes of one length) the
    rows are laid side by side as columns of bytes: the same bytes as joining them, also
    for a sliced batch; one NULL or one longer code and they are joined value by value."""
    schema = pa.schema(
        [
            field("time", pa.timestamp("us", tz="UTC"), "timestamp with time zone"),
            field("symbol", pa.string(), "text"),
            field("open", pa.decimal128(12, 4), "numeric(12,4)"),
            field("volume", pa.int64(), "bigint"),
        ]
    )
    encoders = binary_layout(schema)
    assert encoders is not None
    rng = random.Random(7)
    n = 1000
    times = [1_600_000_000_000_000 + 300_000_000 * i for i in range(n)]
    symbols = [rng.choice(["USD/COP", "EUR/COP", "USD/MXN"]) for _ in range(n)]
    prices = [Decimal(rng.randint(-(10**8), 10**8)) / 10_000 for _ in range(n)]
    volumes = [rng.randint(0, 2**62) for _ in range(n)]

    def batch(syms: list[str | None], vols: list[int | None]) -> pa.RecordBatch:
        return pa.record_batch(
            [
                pa.array(times, pa.timestamp("us", tz="UTC")),
                pa.array(syms, pa.string()),
                pa.array(prices, pa.decimal128(12, 4)),
                pa.array(vols, pa.int64()),
            ],
            schema=schema,
        )

    def joined(b: pa.RecordBatch) -> bytes:  # the value-by-value path, row by row
        return b"".join(bytes(encode_batch(b.slice(i, 1), encoders)) for i in range(b.num_rows))

    def no_join(name: str, *args: object) -> object:
        assert name != "binary_join_element_wise", "rows of one width are laid side by side, not joined"
        return call(name, *args)

    call = copybinary.kernels.call
    even = batch(symbols, volumes)
    for b in (even, even.slice(3, 500)):
        with monkeypatch.context() as m:  # side by side: no join
            m.setattr(copybinary.kernels, "call", no_join)
            got = bytes(encode_batch(b, encoders))
        assert got == joined(b)
        assert len(got) == b.num_rows * (2 + 12 + 11 + 18 + 12)
    decoded = rows(bytes(encode_batch(even.slice(5, 2), encoders)), 4)
    assert [r[1].decode() for r in decoded] == symbols[5:7]
    assert [numeric_value(r[2]) for r in decoded] == prices[5:7]
    assert [struct.unpack(">q", r[3])[0] for r in decoded] == volumes[5:7]
    for uneven in (batch([*symbols[:-1], "USD/COPX"], volumes), batch(symbols, [None, *volumes[1:]])):
        assert bytes(encode_batch(uneven, encoders)) == joined(uneven)
