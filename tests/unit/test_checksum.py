"""The SQL seedctl.pg.checksum generates (no database): algorithm choice, per-type hashes, qualification."""

from __future__ import annotations

import re

import pytest
from psycopg import sql

from seedctl.pg.catalog import Column
from seedctl.pg.checksum import (
    CHECKSUM_ALGORITHM,
    LEGACY_ALGORITHM,
    checksum_columns,
    checksum_query,
)

TABLE = sql.Identifier("public", "t")


def v2(types: list[str]) -> str:
    names = [f"c{i}" for i in range(len(types))]
    return checksum_query(TABLE, names, algorithm=CHECKSUM_ALGORITHM, types=types).as_string(None)


def test_names() -> None:
    assert (LEGACY_ALGORITHM, CHECKSUM_ALGORITHM) == ("row-text-v1", "typed-hash-v2")


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
