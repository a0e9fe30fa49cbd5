"""Column codecs and the way back to PostgreSQL text (seedctl.pg.pgtypes): pure, no database.

Expected calendar values are computed independently of the module: proleptic Gregorian
dates repeat every 400 years (146097 days), so a BC date is a date in 1..9999 shifted by
whole 400-year cycles, which Python's own `datetime.date` then handles.
"""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from seedctl.pg import pgtypes
from seedctl.pg.catalog import Column
from seedctl.pg.pgtypes import (
    DATE_NEG_INF,
    DATE_POS_INF,
    TS_NEG_INF,
    TS_POS_INF,
    codec_for,
    numeric_precision_scale,
    pg_text_scalar,
    to_pg_text,
)

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
CYCLE_DAYS, CYCLE_YEARS = 146097, 400
ANCHOR_ORDINAL = date(2000, 1, 1).toordinal()
US_PER_DAY = 86_400_000_000

DATE_FIELD = pa.field("d", pa.date32(), metadata={"pg_type": "date", "encoding": "epoch_days"})
TSTZ_FIELD = pa.field(
    "t", pa.timestamp("us", tz="UTC"), metadata={"pg_type": "timestamp with time zone", "encoding": "epoch_us"}
)
TS_FIELD = pa.field(
    "t", pa.timestamp("us"), metadata={"pg_type": "timestamp without time zone", "encoding": "epoch_us"}
)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of an astronomical (year 0 = 1 BC) proleptic Gregorian date."""
    cycles = (year - 2000) // CYCLE_YEARS  # move into 2000..2399, which Python's date handles
    return date(year - cycles * CYCLE_YEARS, month, day).toordinal() + cycles * CYCLE_DAYS - EPOCH_ORDINAL


def civil_text(days: int) -> str:
    """PostgreSQL's text for a day number: 'YYYY-MM-DD', with ' BC' and 1 - year before year 1."""
    cycles = (days + EPOCH_ORDINAL - ANCHOR_ORDINAL) // CYCLE_DAYS
    d = date.fromordinal(days + EPOCH_ORDINAL - cycles * CYCLE_DAYS)
    year = d.year + cycles * CYCLE_YEARS
    if year <= 0:
        return f"{1 - year:04d}-{d.month:02d}-{d.day:02d} BC"
    return f"{year:04d}-{d.month:02d}-{d.day:02d}"


def pg_texts(values: list[int | None], field: pa.Field) -> list[str | None]:
    return to_pg_text(pa.array(values, field.type), field).to_pylist()


def col(base: str, typmod: int = -1, pg_type: str | None = None) -> Column:
    return Column("c", pg_type or base, base, typmod, False)


def numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


def test_independent_helpers_agree_with_known_anchors() -> None:
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(1, 1, 1) == -719162
    assert days_from_civil(0, 1, 1) == -719528  # 0001-01-01 BC
    assert days_from_civil(-1, 1, 1) == -719528 - 365  # year 0 (1 BC) is a leap year, 2 BC is not
    assert civil_text(-719528) == "0001-01-01 BC"
    assert civil_text(days_from_civil(0, 2, 29)) == "0001-02-29 BC"
    assert days_from_civil(10000, 1, 1) == 2932897 and civil_text(2932897) == "10000-01-01"
    assert civil_text(days_from_civil(2024, 2, 29)) == "2024-02-29"


# --------------------------------------------------------------------------- numeric typmod


def test_numeric_precision_scale() -> None:
    assert ((12 << 16) | 4) + 4 == numeric_typmod(12, 4)
    assert numeric_precision_scale(((12 << 16) | 4) + 4) == (12, 4)
    assert numeric_precision_scale(numeric_typmod(38, 0)) == (38, 0)
    assert numeric_precision_scale(numeric_typmod(1000, 1000)) == (1000, 1000)
    assert numeric_precision_scale(-1) is None


# --------------------------------------------------------------------------- codecs


@pytest.mark.parametrize(
    "base, arrow",
    [
        ("int2", pa.int16()),
        ("int4", pa.int32()),
        ("int8", pa.int64()),
        ("bool", pa.bool_()),
        ("float4", pa.float32()),
        ("float8", pa.float64()),
    ],
)
def test_native_codecs(base: str, arrow: pa.DataType) -> None:
    codec = codec_for(col(base))
    assert (codec.encoding, codec.arrow_type, codec.csv_type) == ("native", arrow, arrow)


def test_constrained_numeric_is_decimal128() -> None:
    codec = codec_for(col("numeric", numeric_typmod(12, 4), "numeric(12,4)"))
    assert codec.encoding == "native"
    assert codec.arrow_type == pa.decimal128(12, 4) and codec.csv_type == pa.decimal128(12, 4)
    assert codec_for(col("numeric", numeric_typmod(38, 38))).arrow_type == pa.decimal128(38, 38)


@pytest.mark.parametrize(
    "typmod",
    [numeric_typmod(50, 10), numeric_typmod(39, 0), -1, numeric_typmod(5, -2), numeric_typmod(3, 5)],
    ids=["numeric(50,10)", "numeric(39,0)", "unconstrained", "numeric(5,-2)", "numeric(3,5)"],
)
def test_numeric_that_decimal128_cannot_hold_is_text(typmod: int) -> None:
    # numeric(5,-2) and numeric(3,5) are legal from PostgreSQL 15 on.
    codec = codec_for(col("numeric", typmod))
    assert (codec.encoding, codec.arrow_type, codec.csv_type) == ("text", pa.string(), pa.string())


def test_date_and_timestamp_codecs() -> None:
    """Read as plain ISO text by default; as the exact epoch after a fallback. Stored the same."""
    tz_type = pa.timestamp("us", tz="UTC")
    for base, encoding, stored, epoch in [
        ("date", "epoch_days", pa.date32(), pa.int32()),
        ("timestamptz", "epoch_us", tz_type, pa.int64()),
        ("timestamp", "epoch_us", pa.timestamp("us"), pa.int64()),
    ]:
        plain, exact = codec_for(col(base)), codec_for(col(base), "epoch")
        assert (plain.encoding, plain.arrow_type, plain.csv_type, plain.plain) == (encoding, stored, stored, True)
        assert (exact.encoding, exact.arrow_type, exact.csv_type, exact.plain) == (encoding, stored, epoch, False)
        assert pgtypes.select_expr(col(base), plain).as_string(None) == '"c"'
        assert "CASE WHEN" in pgtypes.select_expr(col(base), exact).as_string(None)


@pytest.mark.parametrize("base", ["jsonb", "uuid", "_int4", "text", "interval", "time"])
def test_other_types_are_text(base: str) -> None:
    codec = codec_for(col(base))
    assert (codec.encoding, codec.arrow_type, codec.csv_type) == ("text", pa.string(), pa.string())


@pytest.mark.parametrize(
    "column", [col("int4"), col("numeric", numeric_typmod(12, 4)), col("date"), col("timestamptz"), col("float8")]
)
def test_force_text(column: Column) -> None:
    codec = codec_for(column, "text")
    assert (codec.encoding, codec.arrow_type, codec.csv_type) == ("text", pa.string(), pa.string())


def test_arrow_field_explains_itself() -> None:
    column = Column("px", "numeric(12,4)", "numeric", numeric_typmod(12, 4), True)
    f = pgtypes.arrow_field(column, codec_for(column))
    assert f.name == "px" and f.type == pa.decimal128(12, 4) and not f.nullable
    assert f.metadata == {b"pg_type": b"numeric(12,4)", b"encoding": b"native"}


# --------------------------------------------------------------------------- dates


def test_civil_from_days_matches_python_over_0001_to_9999() -> None:
    first, last = date(1, 1, 1).toordinal(), date(9999, 12, 31).toordinal()
    ordinals = list(range(first, last + 1, 29)) + [first, last]
    for year in (4, 100, 400, 1600, 1700, 1900, 2000, 2024, 9996):  # leap-rule edges
        ordinals += [date(year, 2, 28).toordinal() + k for k in range(3)]
    for ordinal in ordinals:
        d = date.fromordinal(ordinal)
        assert pgtypes._civil_from_days(ordinal - EPOCH_ORDINAL) == (d.year, d.month, d.day), d


def test_dates_0001_to_9999_render_as_isoformat() -> None:
    first, last = date(1, 1, 1).toordinal(), date(9999, 12, 31).toordinal()
    sample = [date.fromordinal(o) for o in range(first, last + 1, 41)] + [date(1, 1, 1), date(9999, 12, 31)]
    sample += [date(2000, 2, 29), date(1900, 2, 28), date(1900, 3, 1), date(1969, 12, 31), date(44, 3, 15)]
    days = [d.toordinal() - EPOCH_ORDINAL for d in sample]
    assert pg_texts(days, DATE_FIELD) == [d.isoformat() for d in sample]


def test_dates_ordinary_values() -> None:
    assert pg_texts([0, -1, 18263, None], DATE_FIELD) == ["1970-01-01", "1969-12-31", "2020-01-02", None]


def test_date_infinities() -> None:
    assert pg_texts([DATE_POS_INF, DATE_NEG_INF], DATE_FIELD) == ["infinity", "-infinity"]


def test_bc_dates() -> None:
    days = [
        -719893,
        days_from_civil(0, 1, 1),
        days_from_civil(0, 12, 31),
        days_from_civil(-43, 3, 15),
        days_from_civil(0, 2, 29),
        days_from_civil(-4712, 1, 1),
    ]
    assert pg_texts(days, DATE_FIELD) == [
        "0002-01-01 BC",  # -719893: 365 days before 1 BC's 1 January
        "0001-01-01 BC",
        "0001-12-31 BC",
        "0044-03-15 BC",
        "0001-02-29 BC",
        "4713-01-01 BC",  # PostgreSQL's earliest date
    ]


def test_bc_dates_wide_sample_and_the_year_boundary() -> None:
    lo = days_from_civil(-4712, 1, 1)
    days = list(range(lo, -719162, 997)) + [-719163, -719162]  # last day BC, first day AD
    assert pg_texts(days, DATE_FIELD) == [civil_text(d) for d in days]
    assert pg_texts([-719163, -719162], DATE_FIELD) == ["0001-12-31 BC", "0001-01-01"]


def test_dates_after_9999() -> None:
    days = [days_from_civil(10000, 1, 1), days_from_civil(10000, 2, 29), days_from_civil(5874897, 12, 31)]
    assert days[0] == 2932897
    assert pg_texts(days, DATE_FIELD) == ["10000-01-01", "10000-02-29", "5874897-12-31"]


def test_dates_mixed_array_keeps_order_and_nulls() -> None:
    days = [None, 0, -719893, DATE_POS_INF, None, 2932896, 2932897, DATE_NEG_INF, 1]
    assert pg_texts(days, DATE_FIELD) == [
        None,
        "1970-01-01",
        "0002-01-01 BC",
        "infinity",
        None,
        "9999-12-31",
        "10000-01-01",
        "-infinity",
        "1970-01-02",
    ]


def test_dates_chunked_array() -> None:
    chunked = pa.chunked_array([pa.array([0, None], pa.date32()), pa.array([-719163], pa.date32())])
    assert to_pg_text(chunked, DATE_FIELD).to_pylist() == ["1970-01-01", None, "0001-12-31 BC"]


def test_all_null_dates() -> None:
    assert pg_texts([None, None], DATE_FIELD) == [None, None]


# --------------------------------------------------------------------------- timestamps


def us_of(dt: datetime) -> int:
    naive = dt.replace(tzinfo=None) - (dt.utcoffset() or timedelta(0))
    return (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def bc_us(year: int, month: int, day: int, hh: int = 0, mm: int = 0, ss: int = 0, micro: int = 0) -> int:
    return days_from_civil(year, month, day) * US_PER_DAY + ((hh * 60 + mm) * 60 + ss) * 1_000_000 + micro


def test_timestamptz_renders_with_zone() -> None:
    us = us_of(datetime(2020, 1, 2, 13, 0, 0, 123456, tzinfo=UTC))
    assert pg_texts([us, 0, -1, None], TSTZ_FIELD) == [
        "2020-01-02 13:00:00.123456+00",
        "1970-01-01 00:00:00.000000+00",
        "1969-12-31 23:59:59.999999+00",
        None,
    ]


def test_naive_timestamp_renders_without_zone() -> None:
    us = us_of(datetime(2020, 1, 2, 13, 0, 0, 123456))
    assert pg_texts([us, -1, None], TS_FIELD) == ["2020-01-02 13:00:00.123456", "1969-12-31 23:59:59.999999", None]


@pytest.mark.parametrize("field", [TSTZ_FIELD, TS_FIELD], ids=["timestamptz", "timestamp"])
def test_timestamp_infinities(field: pa.Field) -> None:
    assert pg_texts([TS_POS_INF, TS_NEG_INF, None], field) == ["infinity", "-infinity", None]


def test_timestamps_0001_to_9999_match_python() -> None:
    rng = random.Random(20240101)
    lo, hi = us_of(datetime(1, 1, 1)), us_of(datetime(9999, 12, 31, 23, 59, 59, 999999))
    values = [rng.randrange(lo, hi + 1) for _ in range(2000)] + [lo, hi]
    expected = [(datetime(1970, 1, 1) + timedelta(microseconds=v)).isoformat(" ", "microseconds") for v in values]
    assert pg_texts(values, TS_FIELD) == expected
    assert pg_texts(values, TSTZ_FIELD) == [e + "+00" for e in expected]


def test_bc_timestamp_has_zone_before_era() -> None:
    values = [bc_us(-43, 3, 15, 12, 30, 5, 250000), bc_us(0, 12, 31, 23, 59, 59, 999999)]
    assert pg_texts(values, TSTZ_FIELD) == [
        "0044-03-15 12:30:05.250000+00 BC",
        "0001-12-31 23:59:59.999999+00 BC",
    ]
    assert pg_texts(values, TS_FIELD) == [
        "0044-03-15 12:30:05.250000 BC",
        "0001-12-31 23:59:59.999999 BC",
    ]
    assert values[1] + 1 == us_of(datetime(1, 1, 1))  # the next microsecond is 0001-01-01 AD


def test_timestamp_after_9999() -> None:
    values = [bc_us(10000, 1, 1), bc_us(294246, 12, 31, 23, 59, 59, 999999)]
    assert pg_texts(values, TS_FIELD) == ["10000-01-01 00:00:00.000000", "294246-12-31 23:59:59.999999"]
    assert pg_texts(values[:1], TSTZ_FIELD) == ["10000-01-01 00:00:00.000000+00"]


def test_timestamps_mixed_array_keeps_order_and_nulls() -> None:
    values = [None, 0, bc_us(-43, 1, 12), TS_POS_INF, bc_us(10000, 1, 1), None, TS_NEG_INF]
    assert pg_texts(values, TSTZ_FIELD) == [
        None,
        "1970-01-01 00:00:00.000000+00",
        "0044-01-12 00:00:00.000000+00 BC",
        "infinity",
        "10000-01-01 00:00:00.000000+00",
        None,
        "-infinity",
    ]


# --------------------------------------------------------------------------- pg_text_scalar


@pytest.mark.parametrize(
    "value, expected",
    [
        (us_of(datetime(2020, 1, 2, 13)), "2020-01-02 13:00:00+00"),
        (us_of(datetime(2020, 1, 2, 13, 0, 0, 123450)), "2020-01-02 13:00:00.12345+00"),
        (us_of(datetime(2020, 1, 2, 13, 0, 0, 100000)), "2020-01-02 13:00:00.1+00"),
        (us_of(datetime(2020, 1, 2, 13, 0, 0, 123456)), "2020-01-02 13:00:00.123456+00"),
        (us_of(datetime(2020, 1, 2, 13, 0, 0, 1)), "2020-01-02 13:00:00.000001+00"),
        (us_of(datetime(2000, 10, 20, 10, 10, 10)), "2000-10-20 10:10:10+00"),
        (bc_us(-43, 1, 12), "0044-01-12 00:00:00+00 BC"),
        (bc_us(-43, 1, 12, 0, 0, 0, 500000), "0044-01-12 00:00:00.5+00 BC"),
        (bc_us(10000, 1, 1), "10000-01-01 00:00:00+00"),
        (TS_POS_INF, "infinity"),
        (TS_NEG_INF, "-infinity"),
        (None, None),
    ],
)
def test_pg_text_scalar_timestamptz(value: int | None, expected: str | None) -> None:
    assert pg_text_scalar(value, TSTZ_FIELD) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (us_of(datetime(2020, 1, 2, 13)), "2020-01-02 13:00:00"),
        (us_of(datetime(2020, 1, 2, 13, 0, 0, 10)), "2020-01-02 13:00:00.00001"),
        (bc_us(-43, 1, 12), "0044-01-12 00:00:00 BC"),
        (bc_us(-43, 1, 12, 0, 0, 0, 120000), "0044-01-12 00:00:00.12 BC"),
    ],
)
def test_pg_text_scalar_naive_timestamp(value: int, expected: str) -> None:
    assert pg_text_scalar(value, TS_FIELD) == expected


def test_pg_text_scalar_date() -> None:
    assert pg_text_scalar(18263, DATE_FIELD) == "2020-01-02"
    assert pg_text_scalar(20, DATE_FIELD) == "1970-01-21"  # a trailing zero day is not trimmed
    assert pg_text_scalar(-719893, DATE_FIELD) == "0002-01-01 BC"
    assert pg_text_scalar(DATE_NEG_INF, DATE_FIELD) == "-infinity"


# --------------------------------------------------------------------------- floats and decimals


def bits64(x: float) -> bytes:
    return struct.pack("<d", x)


def bits32(x: float) -> bytes:
    return struct.pack("<f", x)


# PostgreSQL's float8in/float4in accept these spellings, case-insensitively.
PG_SPECIALS = {"nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}


def test_float8_round_trip_is_bit_exact() -> None:
    rng = random.Random(7)
    values = [
        0.0,
        -0.0,
        0.1 + 0.2,
        1 / 3,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        2.225073858507201e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        1e-7,
        1e16,
        123456789012345678.0,
        math.inf,
        -math.inf,
        math.nan,
        math.pi,
        2.0**53 + 2,
    ]
    values += [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)]
    texts = to_pg_text(pa.array(values + [None], pa.float64()), pa.field("f", pa.float64())).to_pylist()
    assert texts[-1] is None
    for x, s in zip(values, texts):
        assert isinstance(s, str)
        if not any(c.isdigit() for c in s):
            assert s.lower() in PG_SPECIALS, s
        if math.isnan(x):
            assert math.isnan(float(s)), s
        else:
            assert bits64(float(s)) == bits64(x), (x, s)
    assert math.copysign(1.0, float(texts[1])) == -1.0  # -0.0 keeps its sign


def test_float4_round_trip_is_bit_exact() -> None:
    rng = random.Random(8)
    raw = [
        0.0,
        -0.0,
        0.1,
        1 / 3,
        1.4e-45,
        1.17549435e-38,
        3.4028234663852886e38,
        16777217.0,
        math.inf,
        -math.inf,
        math.nan,
    ]
    raw += [struct.unpack("<f", rng.getrandbits(32).to_bytes(4, "little"))[0] for _ in range(3000)]
    values = [struct.unpack("<f", bits32(x))[0] for x in raw]  # exactly representable in float32
    texts = to_pg_text(pa.array(values, pa.float32()), pa.field("f", pa.float32())).to_pylist()
    for x, s in zip(values, texts):
        if math.isnan(x):
            assert math.isnan(float(s)), s
        else:
            assert bits32(float(s)) == bits32(x), (x, s)
    assert math.copysign(1.0, float(texts[1])) == -1.0


@pytest.mark.parametrize("precision, scale", [(12, 4), (38, 10), (38, 0), (38, 38), (5, 5), (1, 0)])
def test_decimal_round_trip_is_exact(precision: int, scale: int) -> None:
    rng = random.Random(precision * 100 + scale)

    def dec(unscaled: int) -> Decimal:  # exact: string construction ignores the context's precision
        return Decimal(f"{unscaled}E-{scale}")

    top = 10**precision - 1
    values = [dec(top), dec(-top), dec(0), dec(1), dec(-1)]
    values += [dec(rng.randint(-top, top)) for _ in range(300)]
    values += [dec(rng.randint(-9, 9)) for _ in range(20)]  # tiny magnitudes
    t = pa.decimal128(precision, scale)
    texts = to_pg_text(pa.array(values + [None], t), pa.field("n", t)).to_pylist()
    assert texts[-1] is None
    for d, s in zip(values, texts):
        assert Decimal(s) == d, (d, s)


def test_decimal_renders_with_its_scale() -> None:
    t = pa.decimal128(12, 4)
    values = [Decimal("1.2300"), Decimal("-0.0001"), Decimal("99999999.9999")]
    assert to_pg_text(pa.array(values, t), pa.field("n", t)).to_pylist() == ["1.2300", "-0.0001", "99999999.9999"]


def test_text_columns_pass_through() -> None:
    arr = pa.array(['{"a": 1}', None, "O'Reilly"])
    assert to_pg_text(arr, pa.field("j", pa.string(), metadata={"encoding": "text"})) is arr


def test_native_bool_and_int() -> None:
    assert to_pg_text(pa.array([True, False, None]), pa.field("b", pa.bool_())).to_pylist() == ["true", "false", None]
    ints = [-(2**63), 2**63 - 1, 0, None]
    assert to_pg_text(pa.array(ints, pa.int64()), pa.field("i", pa.int64())).to_pylist() == [
        "-9223372036854775808",
        "9223372036854775807",
        "0",
        None,
    ]


def test_negative_numeric_scale_is_decoded_and_stored_as_text() -> None:
    from seedctl.pg.catalog import Column
    from seedctl.pg.pgtypes import codec_for, numeric_precision_scale

    typmod = ((5 << 16) | (-2 & 0x7FF)) + 4  # numeric(5,-2), PostgreSQL 15+
    assert numeric_precision_scale(typmod) == (5, -2)
    assert codec_for(Column("n", "numeric(5,-2)", "numeric", typmod, False)).encoding == "text"


def test_copy_csv_keeps_ordinary_dates_and_timestamps_typed() -> None:
    """Years 1-9999 go to COPY as ISO 8601 printed by the CSV writer; anything else as
    PostgreSQL's own text (BC, infinity, years past 9999)."""
    ordinary = pa.array([0, 1577970000123456, None], pa.timestamp("us", tz="UTC"))
    # timestamptz without its zone (the session's TimeZone is UTC): the same instants
    assert pgtypes.to_copy_csv(ordinary, TSTZ_FIELD) == ordinary.cast(pa.timestamp("us"))
    days = pa.array([-719162, 2932896], pa.date32())
    assert pgtypes.to_copy_csv(days, DATE_FIELD).type == pa.date32()
    special = pa.array([0, 2**63 - 1], pa.timestamp("us"))
    assert pgtypes.to_copy_csv(special, TS_FIELD).to_pylist() == ["1970-01-01 00:00:00.000000", "infinity"]
    bc = pa.array([-719163], pa.date32())
    assert pgtypes.to_copy_csv(bc, DATE_FIELD).to_pylist() == ["0001-12-31 BC"]
