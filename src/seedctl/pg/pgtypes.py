"""How each PostgreSQL column is stored in Arrow/Parquet, exactly, and turned back into text.

Every column gets a codec: the SQL expression that exports it through COPY (csv), the
Arrow type it is parsed and stored as, and the way back to PostgreSQL input text.

- integers, booleans, float4/float8: native Arrow types. PostgreSQL's float output is
  shortest-exact (extra_float_digits >= 1), so NaN, +/-Infinity, -0.0 and subnormals survive.
- numeric(p,s) with p <= 38: decimal128(p,s). A column holding NaN or +/-Infinity (which
  decimal cannot represent) is re-exported as text: exact rather than refused.
- date: date32 (days since 1970-01-01), timestamp/timestamptz: timestamp[us] (UTC). The
  extremes are PostgreSQL's own internal sentinels: +/-infinity is INT32_MAX/INT32_MIN for
  dates and INT64_MAX/INT64_MIN for timestamps, so BC dates and years past 9999 are exact.
  They are read in one of two ways with the same stored result: the server's plain ISO
  output, parsed by Arrow (cheap for the server; years 1-9999 only), or, for a column
  holding infinities or other eras, an exact epoch expression computed by the server.
- everything else (text, jsonb, uuid, unconstrained numeric, arrays, ...): the server's text
  output as an Arrow string, which PostgreSQL's input function reads back exactly.

Each Arrow field carries `pg_type` and `encoding` metadata so that a file explains itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from seedctl import kernels
from seedctl.timerange import DAYS_MAX, DAYS_MIN, US_PER_DAY

if TYPE_CHECKING:  # psycopg and the catalog only for export's SQL: the manifest and validate stages skip them
    from psycopg import sql

    from seedctl.pg.catalog import Column

Encoding = Literal["native", "epoch_days", "epoch_us", "text"]

DATE_NEG_INF = -(2**31)
DATE_POS_INF = 2**31 - 1
TS_NEG_INF = -(2**63)
TS_POS_INF = 2**63 - 1
# date32 values that pyarrow's own formatting renders like PostgreSQL (0001-01-01..9999-12-31).
# Emitted by the export query for a value the compact encoding cannot hold.
OUT_OF_RANGE = "out-of-range"

_NATIVE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
}


# How a column that can be read more than one way is read instead of the cheapest way.
Fallback = Literal["epoch", "text"]


@dataclass(frozen=True)
class Codec:
    encoding: Encoding
    arrow_type: pa.DataType  # as stored in Parquet
    csv_type: pa.DataType  # as parsed from COPY ... (FORMAT csv)

    @property
    def plain(self) -> bool:
        """Exported as the column itself: its text output is what csv_type parses."""
        return self.encoding in ("native", "text") or self.csv_type == self.arrow_type


def numeric_precision_scale(typmod: int) -> tuple[int, int] | None:
    """(precision, scale) of numeric(p,s), or None for unconstrained numeric."""
    if typmod < 4:
        return None
    packed = typmod - 4
    # The scale is an 11-bit signed field (PostgreSQL 15 allows negative scales).
    return (packed >> 16) & 0xFFFF, ((packed & 0x7FF) ^ 1024) - 1024


def codec_for(column: Column, fallback: Fallback | None = None) -> Codec:
    """The column's codec; `fallback` after the cheapest reading met values it cannot
    parse: "epoch" (dates/timestamps: exact server-side epoch), "text" (anything)."""
    base = column.base_type
    if fallback == "text":
        return Codec("text", pa.string(), pa.string())
    epoch = fallback == "epoch"
    if base in _NATIVE:
        return Codec("native", _NATIVE[base], _NATIVE[base])
    if base == "numeric":
        ps = numeric_precision_scale(column.typmod)
        if ps and 1 <= ps[0] <= 38 and 0 <= ps[1] <= ps[0]:
            dec = pa.decimal128(*ps)
            return Codec("native", dec, dec)
    if base == "date":
        return Codec("epoch_days", pa.date32(), pa.int32() if epoch else pa.date32())
    if base == "timestamp":
        return Codec("epoch_us", pa.timestamp("us"), pa.int64() if epoch else pa.timestamp("us"))
    if base == "timestamptz":
        stored = pa.timestamp("us", tz="UTC")
        return Codec("epoch_us", stored, pa.int64() if epoch else stored)
    return Codec("text", pa.string(), pa.string())


def arrow_field(column: Column, codec: Codec) -> pa.Field:
    return pa.field(
        column.name,
        codec.arrow_type,
        nullable=not column.not_null,
        metadata={"pg_type": column.pg_type, "encoding": codec.encoding},
    )


def select_expr(column: Column, codec: Codec) -> sql.Composable:
    """The SQL that exports one column in the form its codec parses."""
    from psycopg import sql

    ident = sql.Identifier(column.name)
    if codec.plain:
        return ident  # COPY's csv output is the type's own text output
    if codec.encoding == "epoch_days":
        return sql.SQL(
            "CASE WHEN {c} = 'infinity' THEN {pos} WHEN {c} = '-infinity' THEN {neg} ELSE {c} - DATE '1970-01-01' END"
        ).format(c=ident, pos=sql.Literal(DATE_POS_INF), neg=sql.Literal(DATE_NEG_INF))
    if codec.encoding == "epoch_us":
        # extract() is exact (numeric) from PostgreSQL 14 on. The last ~30 millennia that
        # PostgreSQL accepts do not fit int64 microseconds since 1970: those rows yield a
        # marker that fails parsing, and the column is then exported as exact text.
        return sql.SQL(
            "CASE WHEN {c} = 'infinity' THEN {pos} WHEN {c} = '-infinity' THEN {neg} "
            "WHEN {c} >= {limit} THEN {marker} "
            "ELSE ((extract(epoch FROM {c}) * 1000000)::int8)::text END"
        ).format(
            c=ident,
            pos=sql.Literal(str(TS_POS_INF)),
            neg=sql.Literal(str(TS_NEG_INF)),
            limit=sql.SQL("'294247-01-01 00:00:00'::{t}").format(
                t=sql.SQL("timestamptz" if column.base_type == "timestamptz" else "timestamp")
            ),
            marker=sql.Literal(OUT_OF_RANGE),
        )
    return ident  # COPY's csv output is the type's own text output


def to_storage(array: pa.Array, codec: Codec) -> pa.Array:
    """Parsed CSV column -> the Arrow type stored in Parquet (zero-copy for epochs)."""
    if codec.csv_type == codec.arrow_type:
        return array
    return kernels.cast(array, codec.arrow_type)


# --- back to PostgreSQL text -----------------------------------------------------------


def to_pg_text(array: pa.Array | pa.ChunkedArray, field: pa.Field) -> pa.Array:
    """Render a stored column as PostgreSQL input text (nulls stay null)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoding = (field.metadata or {}).get(b"encoding", b"native").decode()
    if encoding == "epoch_days":
        return _render_special(kernels.cast(array, pa.int32()), pa.date32(), DAYS_MIN, DAYS_MAX, _date_text)
    if encoding == "epoch_us":
        # timestamptz carries its zone (+00) so the reading session's TimeZone cannot matter.
        zone = "+00" if array.type.tz else ""
        return _render_special(
            kernels.cast(array, pa.int64()),
            pa.timestamp("us"),
            DAYS_MIN * US_PER_DAY,
            (DAYS_MAX + 1) * US_PER_DAY - 1,
            lambda us: _timestamp_text(us, zone),
            zone,
        )
    if pa.types.is_string(array.type):
        return array
    return kernels.cast(array, pa.string())


def to_copy_csv(array: pa.Array | pa.ChunkedArray, field: pa.Field) -> pa.Array:
    """A column ready for pyarrow's CSV writer feeding COPY ... (FORMAT csv).

    Numbers, decimals and booleans stay typed: the writer prints them unquoted, exactly as
    to_pg_text would (shortest round-trip floats, nan/inf, full decimal scale), and smaller
    than quoted text. So do dates and timestamps when every value is within years 1-9999:
    the writer prints ISO 8601 (timestamptz without its zone: the session's TimeZone is
    UTC), which PostgreSQL reads exactly. Other
    eras and infinities need PostgreSQL's own spelling (to_pg_text).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoding = (field.metadata or {}).get(b"encoding", b"native").decode()
    if encoding == "native":
        return array
    if encoding in ("epoch_days", "epoch_us") and _ordinary_years(array, encoding):
        # Without its zone: the writer formats a zoned timestamp ~20x slower, and every
        # seedctl session reads a zoneless one in UTC (db.SESSION_SETTINGS: TimeZone).
        return kernels.cast(array, pa.timestamp("us")) if pa.types.is_timestamp(array.type) and array.type.tz else array
    return to_pg_text(array, field)


def _ordinary_years(array: pa.Array, encoding: str) -> bool:
    ints = kernels.cast(array, pa.int32() if encoding == "epoch_days" else pa.int64())
    bounds = kernels.call("min_max", ints)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    unit = 1 if encoding == "epoch_days" else US_PER_DAY
    return lo is None or (lo >= DAYS_MIN * unit and hi < (DAYS_MAX + 1) * unit)


def _render_special(
    ints: pa.Array, fast_type: pa.DataType, lo: int, hi: int, slow: Callable[[int], str], suffix: str = ""
) -> pa.Array:
    """Vectorised formatting for the common range; exact Python formatting for the rest."""
    in_range = kernels.call("and", kernels.call("greater_equal", ints, lo), kernels.call("less_equal", ints, hi))
    ordinary = kernels.call("if_else", in_range, ints, pa.scalar(0, ints.type))  # the rest: 0, replaced below
    fast = kernels.cast(kernels.cast(ordinary, fast_type), pa.string())
    if suffix:
        fast = kernels.call("binary_join_element_wise", fast, suffix, "")
    if kernels.call("all", kernels.fill_null(in_range, True)).as_py():
        return fast
    out = [
        f if ok in (True, None) else slow(v)
        for f, ok, v in zip(fast.to_pylist(), in_range.to_pylist(), ints.to_pylist())
    ]
    return pa.array(out, pa.string())


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of days since 1970-01-01; year 0 is 1 BC."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


def _ymd_text(y: int, m: int, d: int) -> tuple[str, str]:
    if y <= 0:
        return f"{1 - y:04d}-{m:02d}-{d:02d}", " BC"
    return f"{y:04d}-{m:02d}-{d:02d}", ""


def _date_text(days: int) -> str:
    if days == DATE_POS_INF:
        return "infinity"
    if days == DATE_NEG_INF:
        return "-infinity"
    text, era = _ymd_text(*_civil_from_days(days))
    return text + era


def _timestamp_text(us: int, zone: str = "") -> str:
    if us == TS_POS_INF:
        return "infinity"
    if us == TS_NEG_INF:
        return "-infinity"
    days, rest = divmod(us, US_PER_DAY)
    secs, micro = divmod(rest, 1_000_000)
    text, era = _ymd_text(*_civil_from_days(days))
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    # PostgreSQL reads "YYYY-MM-DD HH:MM:SS.ffffff BC"; the era goes last.
    return f"{text} {hh:02d}:{mm:02d}:{ss:02d}.{micro:06d}{zone}{era}"


def pg_text_scalar(value: int | None, field: pa.Field) -> str | None:
    """One stored value as PostgreSQL's own `::text` output (for date ranges in the manifest)."""
    if value is None:
        return None
    text = to_pg_text(pa.array([value], field.type), field)[0].as_py()
    if not pa.types.is_timestamp(field.type) or "infinity" in text:
        return text
    # PostgreSQL trims trailing zero microseconds: "13:00:00.000000+00" -> "13:00:00+00".
    return re.sub(r"\.?0*(?=(\+00)?( BC)?$)", "", text, count=1)
