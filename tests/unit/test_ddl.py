"""Pure comparisons of the restore's schema checks: the column type rule for existing
target tables, user-defined type differences, and the shape checks on schema.json text."""

from __future__ import annotations

import pytest

from seedctl.errors import IntegrityError
from seedctl.pg.catalog import Column, Sequence, TableSchema, UserType
from seedctl.pg.ddl import column_problems, create_type, show_name, type_difference, widened_columns, widens


@pytest.mark.parametrize(
    ("snapshot", "target"),
    [
        ("integer", "integer"),
        ("smallint", "integer"),
        ("smallint", "bigint"),
        ("integer", "bigint"),
        ("character varying(10)", "character varying(10)"),
        ("character varying(10)", "character varying(12)"),
        ("character varying(10)", "character varying"),
        ("character varying(10)", "text"),
        ("character varying", "text"),
        ("text", "character varying"),
        ("numeric(12,4)", "numeric(14,4)"),
        ("numeric(12,4)", "numeric"),
        ("numeric(12)", "numeric(13,0)"),
        ("timestamp(3) without time zone", "timestamp without time zone"),
        ("timestamp(0) with time zone", "timestamp(3) with time zone"),
    ],
)
def test_lossless_widenings_are_accepted(snapshot: str, target: str) -> None:
    assert widens(snapshot, target)


@pytest.mark.parametrize(
    ("snapshot", "target"),
    [
        ("integer", "smallint"),
        ("bigint", "integer"),
        ("integer", "numeric"),
        ("integer", "text"),
        ("real", "double precision"),
        ("double precision", "real"),
        ("character varying(10)", "character varying(9)"),
        ("text", "character varying(100)"),
        ("character varying", "character varying(100)"),
        ("character(3)", "text"),
        ("numeric(12,4)", "numeric(11,4)"),
        ("numeric(12,4)", "numeric(14,5)"),
        ("numeric", "numeric(30,10)"),
        ("numeric(12,4)", "text"),
        ("timestamp(6) without time zone", "timestamp(3) without time zone"),
        ("timestamp without time zone", "timestamp with time zone"),
        ("mood", "text"),
    ],
)
def test_everything_else_is_refused(snapshot: str, target: str) -> None:
    assert not widens(snapshot, target)


def col(name: str, pg_type: str, *, not_null: bool = False, default: str | None = None) -> Column:
    return Column(name=name, pg_type=pg_type, base_type="", typmod=-1, not_null=not_null, default=default)


TABLE = TableSchema("public", "Trades", [col("id", "integer"), col("price", "numeric(12,4)")], ["id"])


def test_column_problems_name_table_column_both_types_and_the_alter_table() -> None:
    problems = column_problems(TABLE, [col("id", "bigint"), col("price", "real")])
    assert problems == [
        (
            "table public.Trades: column price is real in the target table, numeric(12,4) in the snapshot",
            'change it (ALTER TABLE public."Trades" ALTER COLUMN price TYPE numeric(12,4) USING price::numeric(12,4);) '
            "or restore into a new database",
        )
    ]
    assert all("--mode" not in fix for _, fix in problems)


def test_extra_target_columns_are_fine_unless_they_cannot_be_left_to_their_default() -> None:
    target = [
        col("id", "integer"),
        col("price", "numeric(12,4)"),
        col("note", "text"),
        col("n", "integer", not_null=True, default="0"),
        col("must", "text", not_null=True),
    ]
    [(what, fix)] = column_problems(TABLE, target)
    assert "column must of the target table is NOT NULL without a default" in what
    assert 'ALTER TABLE public."Trades" ALTER COLUMN must DROP NOT NULL;' in fix


def test_missing_column_is_refused_with_the_add_column_to_run() -> None:
    [(what, fix)] = column_problems(TABLE, [col("id", "integer")])
    assert "column price (numeric(12,4)) is missing" in what
    assert 'ALTER TABLE public."Trades" ADD COLUMN price numeric(12,4);' in fix


def test_only_real_widenings_are_cast_back_for_the_checksum() -> None:
    widened = widened_columns(TABLE, [col("id", "bigint"), col("price", "numeric(12,4)")])
    assert [c.name for c in widened] == ["id"]
    assert widened_columns(TABLE, [col("id", "text"), col("price", "numeric(12,4)")]) == []


def enum(*labels: str) -> UserType:
    return UserType("public", "mood", "enum", labels=list(labels))


def test_enum_must_keep_the_snapshot_labels_in_order() -> None:
    assert type_difference(enum("sad", "ok", "happy"), enum("sad", "ok", "happy")) is None
    assert type_difference(enum("sad", "ok", "happy"), enum("meh", "sad", "ok", "happy", "elated")) is None
    assert (
        type_difference(enum("sad", "ok", "happy"), enum("sad", "happy", "ok"))
        == "enum labels ['sad', 'happy', 'ok'] there, ['sad', 'ok', 'happy'] in the snapshot"
    )
    assert type_difference(enum("sad", "ok"), enum("sad")) is not None


def test_domain_and_composite_differences_are_named() -> None:
    domain = UserType("public", "price", "domain", base_type="numeric(12,4)")
    assert type_difference(domain, UserType("public", "price", "domain", base_type="numeric(12,4)")) is None
    assert (
        type_difference(domain, UserType("public", "price", "domain", base_type="numeric"))
        == "domain over numeric there, over numeric(12,4) in the snapshot"
    )
    pair = UserType("public", "pair", "composite", attributes=[{"name": "x", "type": "integer"}])
    assert (
        type_difference(pair, UserType("public", "pair", "composite", attributes=[{"name": "x", "type": "bigint"}]))
        == "attributes (x bigint) there, (x integer) in the snapshot"
    )
    assert type_difference(pair, enum("x")) == "it is an enum there, composite in the snapshot"


@pytest.mark.parametrize(
    "utype",
    [
        UserType("public", "price", "domain", base_type="numeric; DROP TABLE x"),
        UserType(
            "public",
            "price",
            "domain",
            base_type="numeric",
            checks=[{"name": "c", "definition": "CHECK (VALUE > 0); DROP TABLE x"}],
        ),
        UserType(
            "public", "price", "domain", base_type="numeric", checks=[{"name": "c", "definition": "DROP TABLE x"}]
        ),
        UserType("public", "price", "domain", base_type="numeric", default="0; DROP TABLE x"),
        UserType("public", "pair", "composite", attributes=[{"name": "x", "type": "int); DROP TABLE x; --"}]),
        UserType("public", "pair", "index"),
    ],
)
def test_edited_schema_json_cannot_smuggle_sql_into_a_type(utype: UserType) -> None:
    with pytest.raises(IntegrityError, match="may have been edited"):
        create_type(None, utype, TABLE)  # type: ignore[arg-type] - refused before any use of the connection


def test_old_snapshots_without_the_new_keys_still_load() -> None:
    data = TABLE.to_dict()
    for key in ("sequences", "types", "extensions"):
        del data[key]
    old = TableSchema.from_dict(data)
    assert old.sequences == [] and old.types == [] and old.extensions == []
    seq = Sequence("public", "s", "bigint", 1, 1, 1, 2**63 - 1, 1, False, ["public", "Trades", "id"])
    again = TableSchema.from_dict({**data, "sequences": [seq.__dict__]})
    assert again.sequences == [seq]


def test_sequence_positions_compare_in_the_sequence_direction() -> None:
    from seedctl.pg.ddl import _ahead

    # ascending: (5, called) hands out 6 next, (6, not called) also 6, (7, called) 8
    assert _ahead((5, True), 1) == _ahead((6, False), 1) < _ahead((7, True), 1)
    # descending: (-5, called) hands out -6 next, which is further along than -4
    assert _ahead((-5, True), -1) > _ahead((-3, True), -1)
    assert _ahead((-5, True), -1) == _ahead((-6, False), -1)


def test_names_in_hints_are_quoted_where_sql_needs_it() -> None:
    """A hint's statement must run as printed: reserved words, case and spaces are quoted."""
    assert show_name("public", "trades") == "public.trades"
    assert show_name("public", "order") == 'public."order"'
    assert show_name("app", "Mixed Case", 'say "hi"') == 'app."Mixed Case"."say ""hi"""'
