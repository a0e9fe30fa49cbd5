"""The SQL seedctl.pg.checksum generates (no database): algorithm choice, per-type hashes, qualification."""

from __future__ import annotations

import re

import pytest
from psycopg import sql

from seedctl.errors import RestoreRefused
from seedctl.pg.catalog import Column
from seedctl.pg.checksum import (
    CHECKSUM_ALGORITHM,
    LEGACY_ALGORITHM,
    NATIVE_TEXT_ALGORITHM,
    algorithm_for,
    checksum_columns,
    checksum_query,
)

TABLE = sql.Identifier("public", "t")


def v2(types: list[str]) -> str:
    names = [f"c{i}" for i in range(len(types))]
    return checksum_query(TABLE, names, algorithm=CHECKSUM_ALGORITHM, types=types).as_string(None)


def test_names() -> None:
    assert (LEGACY_ALGORITHM, NATIVE_TEXT_ALGORITHM, CHECKSUM_ALGORITHM) == (
        "row-text-v1",
        "typed-hash-v2",
        "typed-hash-v3",
    )


@pytest.mark.parametrize(
    ("encoding", "algorithm"),
    [
        ("UTF8", "typed-hash-v3"),
        ("SQL_ASCII", "typed-hash-v3"),
        ("LATIN1", "typed-hash-v3"),
        ("LATIN10", "typed-hash-v3"),
        ("WIN1252", "typed-hash-v3"),
        ("ISO_8859_5", "typed-hash-v3"),
        ("KOI8R", "typed-hash-v3"),
        ("EUC_JP", "typed-hash-v2"),
        ("MULE_INTERNAL", "typed-hash-v2"),
    ],
)
def test_the_database_encoding_chooses_the_algorithm(encoding: str, algorithm: str) -> None:
    assert algorithm_for(encoding) == algorithm


TYPES = ["text", "character varying(5)", "character(3)", "xml", "jsonb", "integer", "numeric(12,4)", "bytea"]


def test_v3_is_v2_where_text_is_utf8() -> None:
    names = [f"c{i}" for i in range(len(TYPES))]
    for encoding in ("UTF8", "SQL_ASCII"):
        v3 = checksum_query(TABLE, names, algorithm=CHECKSUM_ALGORITHM, types=TYPES, server_encoding=encoding)
        v2 = checksum_query(TABLE, names, algorithm=NATIVE_TEXT_ALGORITHM, types=TYPES, server_encoding=encoding)
        assert v3.as_string(None) == v2.as_string(None)
    v2_latin1 = checksum_query(TABLE, names, algorithm=NATIVE_TEXT_ALGORITHM, types=TYPES, server_encoding="LATIN1")
    assert "convert_to" not in v2_latin1.as_string(None)  # v2 keeps hashing the database's own bytes


def test_v3_hashes_text_as_its_utf8_bytes_in_a_single_byte_database() -> None:
    names = [f"c{i}" for i in range(len(TYPES))]
    q = checksum_query(TABLE, names, algorithm=CHECKSUM_ALGORITHM, types=TYPES, server_encoding="WIN1252").as_string(
        None
    )
    recoded = "pg_catalog.hashtextextended(pg_catalog.convert_from(pg_catalog.convert_to({}, 'UTF8'), 'WIN1252')"
    for text in ('"c0"', '"c1"', '"c2"::pg_catalog.text', 'pg_catalog.textin(pg_catalog.xml_out("c3"))'):
        assert recoded.format(text) in q
    assert recoded.format('"c4"::pg_catalog.text') in q  # jsonb: its text, as every other type
    for unchanged in ('hashint4extended("c5"', 'hash_numeric_extended("c6"', 'hash_record_extended(ROW("c7")'):
        assert unchanged in q
    assert q.count("convert_to") == 5


def test_v3_cannot_be_computed_where_text_cannot_hold_utf8_bytes() -> None:
    with pytest.raises(RestoreRefused, match="cannot be computed in a EUC_JP database"):
        checksum_query(TABLE, ["a"], algorithm=CHECKSUM_ALGORITHM, types=["text"], server_encoding="EUC_JP")


def test_unknown_algorithm_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown checksum algorithm 'row-text-v3'.*row-text-v1, typed-hash-v2"):
        checksum_query(TABLE, ["a"], algorithm="row-text-v3")


@pytest.mark.parametrize("types", [None, [], ["bigint", "text"]])
def test_v2_needs_one_type_per_column(types: list[str] | None) -> None:
    with pytest.raises(ValueError, match="needs the type of each of the 1 columns"):
        checksum_query(TABLE, ["a"], algorithm=CHECKSUM_ALGORITHM, types=types)


def test_v1_query_is_the_row_text_hash() -> None:
    q = checksum_query(TABLE, ["a", "b"], algorithm=LEGACY_ALGORITHM).as_string(None)
    assert q == (
        "SELECT pg_catalog.count(*), coalesce(pg_catalog.sum(pg_catalog.hashtextextended("
        'ROW("a", "b")::pg_catalog.text, 0)::pg_catalog.numeric), 0)::pg_catalog.text FROM "public"."t"'
    )


@pytest.mark.parametrize(
    ("pg_type", "expected"),
    [
        ("smallint", 'pg_catalog.hashint2extended("c0", '),
        ("integer", 'pg_catalog.hashint4extended("c0", '),
        ("bigint", 'pg_catalog.hashint8extended("c0", '),
        ("numeric(12,4)", 'pg_catalog.hash_numeric_extended("c0", '),
        ("numeric(5)", 'pg_catalog.hash_numeric_extended("c0", '),
        ("numeric(5,-2)", 'pg_catalog.hash_numeric_extended("c0", '),
        ("text", 'pg_catalog.hashtextextended("c0" COLLATE pg_catalog."C", '),
        ("character varying", 'pg_catalog.hashtextextended("c0" COLLATE pg_catalog."C", '),
        ("character varying(10)", 'pg_catalog.hashtextextended("c0" COLLATE pg_catalog."C", '),
        ("character(3)", 'pg_catalog.hashbpcharextended("c0" COLLATE pg_catalog."C", '),
        ("uuid", 'pg_catalog.uuid_hash_extended("c0", '),
        ("timestamp without time zone", 'pg_catalog.timestamp_hash_extended("c0", '),
        (
            "timestamp(3) with time zone",
            "pg_catalog.timestamp_hash_extended(pg_catalog.timezone('0'::pg_catalog.interval, \"c0\"), ",
        ),
        ("boolean", 'pg_catalog.hash_record_extended(ROW("c0"), '),
        ("date", 'pg_catalog.hash_record_extended(ROW("c0"), '),
        ("bytea", 'pg_catalog.hash_record_extended(ROW("c0"), '),
        ("xml", 'pg_catalog.hashtextextended(pg_catalog.textin(pg_catalog.xml_out("c0")) COLLATE pg_catalog."C", '),
    ],
)
def test_types_whose_equal_values_print_alike_use_their_own_hash(pg_type: str, expected: str) -> None:
    assert expected in v2([pg_type])


@pytest.mark.parametrize(
    "pg_type",
    [
        "numeric",
        "real",
        "double precision",
        "json",
        "jsonb",
        "integer[]",
        "text[]",
        "interval",
        "bpchar",
        "time without time zone",
        "money",
        "public.price",
        "numeric(12,4)[]",
        '"char"',
    ],
)
def test_other_types_are_hashed_as_text(pg_type: str) -> None:
    assert 'pg_catalog.hashtextextended("c0"::pg_catalog.text COLLATE pg_catalog."C", ' in v2([pg_type])


def test_every_function_type_and_collation_is_pg_catalog_qualified() -> None:
    q = v2(["integer", "numeric", "timestamp with time zone", "date", "text", "character(2)", "jsonb"])
    calls = set(re.findall(r'([\w."]+)\s*\(', q))
    assert {c for c in calls if not c.startswith("pg_catalog.")} == {"ROW", "coalesce"}
    assert all(t.startswith("pg_catalog.") for t in re.findall(r"::([\w.\"]+)", q))
    assert all(t.startswith("pg_catalog.") for t in re.findall(r"COLLATE ([\w.\"]+)", q))


def test_each_column_has_its_own_seed_and_null_value() -> None:
    q = v2(["bigint"] * 50)
    constants = re.findall(r"\b\d{6,}\b", q)
    assert len(constants) == 100 and len(set(constants)) == 100


def test_wide_tables_nest_shallowly() -> None:
    q = v2(["bigint"] * 1600)
    depth = peak = 0
    for ch in q:
        depth += (ch == "(") - (ch == ")")
        peak = max(peak, depth)
    assert peak < 25


def test_checksum_columns_from_catalog_columns() -> None:
    cols = [
        Column("time", "timestamp with time zone", "timestamptz", -1, True),
        Column("open", "numeric(12,4)", "numeric", 786440, True),
    ]
    assert checksum_columns(cols) == (["time", "open"], ["timestamp with time zone", "numeric(12,4)"])
