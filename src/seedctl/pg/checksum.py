"""Content checksums computed by PostgreSQL itself, the same way on both ends.

At export the checksum of every table is taken inside the snapshot transaction; after a
restore (and for `seedctl verify --db`) the same query runs on the target. Equal row count
and checksum mean equal content. Columns are taken by name in the snapshot's order, so a
target whose columns sit in another order still compares, and per-row 64-bit hashes are
summed (as numeric text), so physical row order does not matter.

row-text-v1 hashes `ROW(cols)::text`: exact, but the text conversion (numeric_out, record
quoting) is most of the query's cost. typed-hash-v2, the default for new snapshots, takes
~1/3 of the time on OHLCV tables: it hashes each value with its type's own extended hash
function, those hash partitioning uses and PostgreSQL therefore keeps stable across major
versions. That is exact only where equal values also print identically: integers, bool,
date, timestamp(tz), text/varchar/char(n) (under the deterministic "C" collation), uuid,
bytea and numeric WITH a typmod (fixed scale; hash_numeric ignores the sign, so negative
numbers get another seed). Every other type is hashed as its text, as in v1: unconstrained
numeric (1.0 = 1.00), float (-0 = 0), json(b), arrays, intervals, domains, the rest.
Each column has its own seed and its own NULL value, so values or NULLs swapped between
columns change the row hash; the column hashes are XORed and the result mixed by one more
hash (as its seed), so that values moved between rows do not cancel out in the sum.
bigint and timestamps hash their 64 bits folded to 32 (PostgreSQL's choice): a changed
value of those has a ~2^-32 rather than 2^-64 chance to go unnoticed. Text output relies
on seedctl's session settings (TimeZone, DateStyle, IntervalStyle, extra_float_digits).

typed-hash-v3, the default since, is v2 over the UTF-8 bytes of every value hashed as text.
v2 hashed the bytes in the database's own encoding, so a LATIN1 database's snapshot could
never verify in a UTF8 database (and the other way round). In a UTF8 or SQL_ASCII database
the two are the same query and the same digest; in a single-byte one (LATIN1..10, WIN125x,
ISO_8859_x, KOI8) the text's UTF-8 bytes are taken as text of the database's encoding
(every byte but NUL is a character there) and hashed. The other multibyte encodings
(EUC_*, MULE_INTERNAL) cannot hold those bytes: their snapshots keep v2, verifiable in a
database of the same encoding only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from seedctl.errors import RestoreRefused
from seedctl.pg import db

if TYPE_CHECKING:
    from seedctl.pg.catalog import Column

LEGACY_ALGORITHM = "row-text-v1"
NATIVE_TEXT_ALGORITHM = "typed-hash-v2"
CHECKSUM_ALGORITHM = "typed-hash-v3"
ALGORITHMS = (LEGACY_ALGORITHM, NATIVE_TEXT_ALGORITHM, CHECKSUM_ALGORITHM)
# Server encodings whose text is already UTF-8 bytes (SQL_ASCII: whatever the client sent,
# and seedctl's sessions send UTF-8), and those that can hold any UTF-8 bytes as text.
_UTF8_ENCODINGS = ("UTF8", "SQL_ASCII")
_SINGLE_BYTE = re.compile(r"LATIN\d+|WIN\d+|ISO_8859_\d|KOI8[RU]")

# v2: format_type() spelling -> hash of {c} with seed {s} (and {t}), and for the types it
# hashes as text, that text (v3 hashes its UTF-8 bytes where the database's encoding is not
# UTF-8: _AS_UTF8). All pg_catalog-qualified: a function, type or collation of the same name
# earlier on the target's search_path must not be able to fake a matching checksum.
_TYPED_HASHES = [
    (re.compile(p), t, text)
    for p, t, text in (
        (r"smallint", "pg_catalog.hashint2extended({c}, {s})", None),
        (r"integer", "pg_catalog.hashint4extended({c}, {s})", None),
        (r"bigint", "pg_catalog.hashint8extended({c}, {s})", None),
        (
            r"numeric\(\d+(,-?\d+)?\)",
            "pg_catalog.hash_numeric_extended({c}, CASE WHEN pg_catalog.numeric_lt({c}, 0) THEN {t} ELSE {s} END)",
            None,
        ),
        (r"text|character varying(\(\d+\))?", 'pg_catalog.hashtextextended({c} COLLATE pg_catalog."C", {s})', "{c}"),
        # bpchar's hash leaves out its trailing blanks, as its text does.
        (
            r"character\(\d+\)",
            'pg_catalog.hashbpcharextended({c} COLLATE pg_catalog."C", {s})',
            "{c}::pg_catalog.text",
        ),
        (r"uuid", "pg_catalog.uuid_hash_extended({c}, {s})", None),
        (r"timestamp(\(\d\))? without time zone", "pg_catalog.timestamp_hash_extended({c}, {s})", None),
        # timestamptz's hash is timestamp_hash of the same microseconds: shift by zero to get them.
        (
            r"timestamp(\(\d\))? with time zone",
            "pg_catalog.timestamp_hash_extended(pg_catalog.timezone('0'::pg_catalog.interval, {c}), {s})",
            None,
        ),
        # No SQL-callable hash for these: the record hash calls the type's own one.
        (
            r"boolean|date|bytea",
            "CASE WHEN {c} IS NOT NULL THEN pg_catalog.hash_record_extended(ROW({c}), {s}) END",
            None,
        ),
        # xml::text is the text as stored, which keeps an XML declaration that the type's output
        # (what COPY, pg_dump and every reader see) leaves out: hash the output, as for any
        # other type. The same digest as the cast for every value without a declaration.
        (
            r"xml",
            'pg_catalog.hashtextextended(pg_catalog.textin(pg_catalog.xml_out({c})) COLLATE pg_catalog."C", {s})',
            "pg_catalog.textin(pg_catalog.xml_out({c}))",
        ),
    )
]
# Every other type: hashed as its text.
_TEXT_HASH = 'pg_catalog.hashtextextended({c}::pg_catalog.text COLLATE pg_catalog."C", {s})', "{c}::pg_catalog.text"
# v3 in a single-byte database ({e}): the UTF-8 bytes of {text}, taken as text of that encoding.
_AS_UTF8 = (
    "pg_catalog.hashtextextended(pg_catalog.convert_from(pg_catalog.convert_to({text}, 'UTF8'), {e}) "
    'COLLATE pg_catalog."C", {s})'
)
_MIX_KEY = 24_301  # row hash = hashint4extended(_MIX_KEY, seed => XOR of the column hashes)


def _constant(n: int) -> int:
    """The n-th fixed 63-bit constant of v2 (seeds and NULL values); part of the format."""
    return int.from_bytes(hashlib.sha256(f"seedctl typed-hash-v2 {n}".encode()).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class Checksum:
    rows: int
    digest: str  # sum of 64-bit row hashes, as decimal text

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "digest": self.digest}


def checksum_columns(columns: Sequence[Column]) -> tuple[list[str], list[str]]:
    """(names, types) of catalog columns, as table_checksum takes them."""
    return [c.name for c in columns], [c.pg_type for c in columns]


def table_checksum(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: list[str],
    *,
    algorithm: str = LEGACY_ALGORITHM,
    types: Sequence[str] | None = None,
) -> Checksum:
    """Row count and order-independent content checksum of `columns` of `table`.

    typed-hash-v2 needs `types`, the format_type() of each column in the same order: at a
    restore, the snapshot's (those the export used), not the target's.
    """
    query = checksum_query(table, columns, algorithm=algorithm, types=types, server_encoding=db.server_encoding(conn))
    with conn.cursor() as cur:
        cur.execute(query)
        count, digest = db.one(cur)
    return Checksum(int(count), str(digest))


def recorded_checksum(conn: psycopg.Connection, target: sql.Composable, entry: dict[str, Any]) -> Checksum:
    """The checksum a snapshot recorded for a table (a manifest entry), computed on
    `target` the way the snapshot did: its columns, its types, its algorithm (snapshots
    made before v2 record none: row-text-v1)."""
    columns = entry["schema"]["columns"]
    return table_checksum(
        conn,
        target,
        [c["name"] for c in columns],
        algorithm=entry.get("checksum_algorithm", LEGACY_ALGORITHM),
        types=[c["pg_type"] for c in columns],
    )


def algorithm_for(server_encoding: str) -> str:
    """The checksum a new snapshot of a database of this encoding records."""
    if server_encoding in _UTF8_ENCODINGS or _SINGLE_BYTE.fullmatch(server_encoding):
        return CHECKSUM_ALGORITHM
    return NATIVE_TEXT_ALGORITHM


def checksum_query(
    table: sql.Composable,
    columns: list[str],
    *,
    algorithm: str,
    types: Sequence[str] | None = None,
    server_encoding: str = "UTF8",
) -> sql.Composed:
    row_hash = row_hash_expr(columns, algorithm=algorithm, types=types, server_encoding=server_encoding)
    return sql.SQL("SELECT pg_catalog.count(*), coalesce(pg_catalog.sum({}), 0)::pg_catalog.text FROM {}").format(
        row_hash, table
    )


def row_hash_expr(
    columns: list[str], *, algorithm: str, types: Sequence[str] | None = None, server_encoding: str = "UTF8"
) -> sql.Composable:
    """One row's 64-bit hash under `algorithm`."""
    if algorithm == LEGACY_ALGORITHM:
        row = sql.SQL("ROW({})::pg_catalog.text").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
        return sql.SQL("pg_catalog.hashtextextended({}, 0)::pg_catalog.numeric").format(row)
    return _mixed(_column_hashes(columns, algorithm=algorithm, types=types, server_encoding=server_encoding))


def _mixed(column_hashes: sql.Composable) -> sql.Composable:
    return sql.SQL("pg_catalog.hashint4extended({}, {})").format(sql.Literal(_MIX_KEY), column_hashes)


def _column_hashes(
    columns: list[str], *, algorithm: str, types: Sequence[str] | None, server_encoding: str
) -> sql.Composable:
    """The XOR of a row's column hashes (v2, v3), before the final mix."""
    if algorithm not in (NATIVE_TEXT_ALGORITHM, CHECKSUM_ALGORITHM):
        raise ValueError(f"unknown checksum algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    if types is None or len(types) != len(columns):
        raise ValueError(f"checksum {algorithm} needs the type of each of the {len(columns)} columns")
    recode = None  # v2, and v3 where the text already is UTF-8
    if algorithm == CHECKSUM_ALGORITHM and server_encoding not in _UTF8_ENCODINGS:
        if not _SINGLE_BYTE.fullmatch(server_encoding):
            raise RestoreRefused(
                f"the snapshot's {algorithm} content checksum cannot be computed in a {server_encoding} database",
                "nothing was changed; use a database of encoding UTF8 (or a single-byte one, e.g. LATIN1)",
            )
        recode = server_encoding
    return _xor(  # column i: seeds _constant(3i), (3i+1), NULL (3i+2)
        [
            sql.SQL("coalesce({}, {})").format(
                _column_hash(c, t.strip(), 3 * i, recode), sql.Literal(_constant(3 * i + 2))
            )
            for i, (c, t) in enumerate(zip(columns, types))
        ]
    )


def _xor(hashes: list[sql.Composable]) -> sql.Composable:
    """A balanced XOR tree of 64-bit hashes (no deep nesting for wide tables); 0 for none."""
    hashes = hashes or [sql.Literal(0)]
    while len(hashes) > 1:
        odd = hashes[-1:] if len(hashes) % 2 else []
        xor = sql.SQL("pg_catalog.int8xor({}, {})")
        hashes = [xor.format(a, b) for a, b in zip(hashes[::2], hashes[1::2])] + odd
    return hashes[0]


def _column_hash(column: str, pg_type: str, n: int, recode: str | None = None) -> sql.Composable:
    """Column n's hash; recode: the database's single-byte encoding, to hash text as its UTF-8 bytes."""
    template, text = next(((t, x) for p, t, x in _TYPED_HASHES if p.fullmatch(pg_type)), _TEXT_HASH)
    if recode is not None and text is not None:
        template = _AS_UTF8.replace("{text}", text)
    return sql.SQL(template).format(
        e=sql.Literal(recode), c=sql.Identifier(column), s=sql.Literal(_constant(n)), t=sql.Literal(_constant(n + 1))
    )


@dataclass(frozen=True)
class PeriodSums:
    """One period's rows and hash sums (snapshot/reuse.py): digest adds up, over a table's
    periods, to its content checksum; fingerprint is the sum of its exact row hashes."""

    rows: int
    digest: str
    fingerprint: str


# A period's fingerprint must tell apart every two different rows, not only most. The typed
# hashes of bigint and the timestamps (hashint8extended, timestamp_hash_extended) fold 64 bits
# to 32 first (low half XOR high half), so some distinct values hash alike by construction:
# 1 and 4294967296, or two timestamps about 71 minutes apart with the right bits. The
# fingerprint therefore mixes into each row hash one more hash per such column, of what the
# fold loses: a bigint's high half (with the fold, that is the whole value); a timestamp's
# hour since 1970. Two timestamps with the same fold differ in their high halves, which for
# any moment before year ~70000 puts them at least 2^32 - 2^29 microseconds (62 minutes)
# apart, so in different hours. What is left is the chance collision of 64-bit hashes.
_FOLDING = re.compile(r"bigint|timestamp(\(\d\))? with(out)? time zone")
_UNFOLDED_SEED = 10**6  # seeds _constant(10**6 + i): apart from the column seeds (3i..3i+2)


def _unfolded(column: str, pg_type: str, i: int) -> sql.Composable:
    """What the typed hash of column i (bigint or a timestamp) folds away, hashed; 0 for NULL."""
    c = sql.Identifier(column)
    if pg_type == "bigint":
        value = sql.SQL("pg_catalog.hashint4extended(pg_catalog.int8shr({}, 32)::pg_catalog.int4, {})")
    else:  # floor(epoch seconds / 3600): +-Infinity for the infinities, hashed as float8
        value = sql.SQL(
            "pg_catalog.hashfloat8extended(pg_catalog.floor("
            "pg_catalog.float8div(pg_catalog.date_part('epoch', {}), 3600)), {})"
        )
    return sql.SQL("coalesce({}, 0)").format(value.format(c, sql.Literal(_constant(_UNFOLDED_SEED + i))))


# The time column's type -> its UTC calendar day: the server groups rows by day (an integer
# key, cheaper than truncating every value to its month), and the days are added up into
# periods here, from their text: exact for every value, infinities and BC included.
_DAY = {
    "date": "{c}",
    "timestamp": "{c}::pg_catalog.date",
    "timestamptz": "pg_catalog.timezone('0'::pg_catalog.interval, {c})::pg_catalog.date",
}


def period_sums(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: list[str],
    types: Sequence[str],
    *,
    time_column: str,
    time_type: str,
    granularity: str,
    algorithm: str,
    where: sql.Composable | None = None,
) -> dict[str, PeriodSums]:
    """Rows, content-checksum sum and fingerprint per period of time_column (base type
    date, timestamp or timestamptz), in one scan: periods named as partition.py names them
    (2024-03 / 2024, early, late, undated). where: only the rows it holds true for (a
    condition on the table's columns), for one share of a scan split over connections."""
    encoding = db.server_encoding(conn)
    t = sql.SQL("{}::pg_catalog.{}").format(sql.Identifier(time_column), sql.SQL(time_type))
    key = sql.SQL(_DAY[time_type]).format(c=t)
    hashes = _column_hashes(columns, algorithm=algorithm, types=types, server_encoding=encoding)
    # OFFSET 0 keeps the subquery whole: x is computed once per row, not once per sum.
    query = sql.SQL(
        "SELECT k::pg_catalog.text, pg_catalog.count(*), coalesce(pg_catalog.sum({digest}), 0)::pg_catalog.text,"
        " coalesce(pg_catalog.sum({fingerprint}), 0)::pg_catalog.text"
        " FROM (SELECT {key} AS k, {x} AS x, {e} AS e FROM {table}{where} OFFSET 0) s GROUP BY k"
    ).format(
        digest=_mixed(sql.SQL("x")),
        fingerprint=_mixed(sql.SQL("pg_catalog.int8xor(x, e)")),
        key=key,
        x=hashes,
        e=_xor(
            [
                _unfolded(column, pg_type.strip(), i)
                for i, (column, pg_type) in enumerate(zip(columns, types))
                if _FOLDING.fullmatch(pg_type.strip())
            ]
        ),
        table=table,
        where=sql.SQL("") if where is None else sql.SQL(" WHERE ") + where,
    )
    with conn.cursor() as cur:
        cur.execute(query)
        days = cur.fetchall()
    return added([{_period(day, granularity): PeriodSums(int(n), d, f)} for day, n, d, f in days])


def added(shares: list[dict[str, PeriodSums]]) -> dict[str, PeriodSums]:
    """Per period, the sums of these shares of its rows added up: sums of disjoint row sets
    (days, or the shares of a scan split over connections) are the sums of their union."""
    periods: dict[str, list[int]] = {}
    for share in shares:
        for name, s in share.items():
            found = periods.setdefault(name, [0, 0, 0])
            found[0] += s.rows
            found[1] += int(s.digest)
            found[2] += int(s.fingerprint)
    return {name: PeriodSums(n, str(d), str(f)) for name, (n, d, f) in periods.items()}


def _period(day: str | None, granularity: str) -> str:
    """The period (partition.py's name) of a day as PostgreSQL prints it (ISO DateStyle)."""
    if day is None:
        return "undated"
    if day == "-infinity" or day.endswith(" BC"):
        return "early"
    year = day.split("-", 1)[0]
    if day == "infinity" or len(year) > 4:
        return "late"
    return year if granularity == "year" else day[:7]


def total(sums: dict[str, PeriodSums]) -> Checksum:
    """The table's content checksum from its periods' sums."""
    return Checksum(sum(s.rows for s in sums.values()), str(sum(int(s.digest) for s in sums.values())))
