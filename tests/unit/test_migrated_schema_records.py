"""What a snapshot records about schemas built by migrations: generated columns kept
apart from the data but in table order, the new fields surviving schema.json, an existing
target's generated column refused, and the shape checks on the new catalog texts."""

from __future__ import annotations

import pytest

from seedctl.pg.catalog import Column, TableSchema
from seedctl.pg.ddl import _BOUND_SHAPE, _COLLATION_SHAPE, _FOREIGN_KEY_SHAPE, _PARTITION_KEY_SHAPE, column_problems


def col(name: str, generated: str = "", default: str | None = None) -> Column:
    return Column(name, "numeric", "numeric", -1, False, default=default, generated=generated)


def table() -> TableSchema:
    return TableSchema(
        "public",
        "gen",
        [col("id"), col("price"), col("note")],
        ["id"],
        generated=[col("total", "s", "(price * 2)")],
        layout=["id", "price", "total", "note"],
        comments={"": "t", "price": "p"},
        functions=[
            {
                "schema": "public",
                "name": "f",
                "signature": "public.f(text)",
                "definition": "CREATE OR REPLACE FUNCTION public.f(t text) ...",
            }
        ],
        foreign_keys=[
            {
                "name": "fk",
                "definition": "FOREIGN KEY (id) REFERENCES public.other(id)",
                "ref_schema": "public",
                "ref_table": "other",
            }
        ],
        partition_key="RANGE (id)",
        partitions=[
            {
                "schema": "public",
                "name": "gen_1",
                "parent": "public.gen",
                "bound": "FOR VALUES FROM (0) TO (10)",
                "key": "",
            }
        ],
    )


def test_generated_columns_are_not_data_but_keep_their_place() -> None:
    t = table()
    assert [c.name for c in t.columns] == ["id", "price", "note"]
    assert [c.name for c in t.all_columns()] == ["id", "price", "total", "note"]


def test_new_records_survive_schema_json_and_old_snapshots_have_none() -> None:
    t = table()
    assert TableSchema.from_dict(t.to_dict()) == t
    old = t.to_dict()
    for key in ("generated", "layout", "comments", "functions", "foreign_keys", "partition_key", "partitions"):
        del old[key]
    for c in old["columns"]:
        del c["generated"], c["collation"]
    back = TableSchema.from_dict(old)
    assert back.generated == [] and back.foreign_keys == [] and back.partition_key == ""
    assert [c.name for c in back.all_columns()] == ["id", "price", "note"]


def test_a_snapshot_column_that_is_generated_on_the_target_is_refused() -> None:
    t = table()
    target = [col("id"), col("price", "s", "(1)"), col("note")]
    [(what, fix)] = column_problems(t, target)
    assert "column price is a generated column in the target table" in what
    assert "ALTER TABLE public.gen ALTER COLUMN price DROP EXPRESSION;" in fix
    assert column_problems(t, [col("id"), col("price"), col("note"), col("total", "s", "(price * 2)")]) == []


@pytest.mark.parametrize(
    ("shape", "good", "bad"),
    [
        (_COLLATION_SHAPE, 'pg_catalog."C"', 'pg_catalog."C"; DROP TABLE x'),
        (_COLLATION_SHAPE, 'pg_catalog."und-x-icu"', "C"),
        (_FOREIGN_KEY_SHAPE, "FOREIGN KEY (a) REFERENCES public.b(id) ON DELETE CASCADE", "CHECK (true)"),
        (_PARTITION_KEY_SHAPE, "RANGE (at)", "RANGE (at); DROP TABLE x"),
        (_BOUND_SHAPE, "FOR VALUES FROM ('2024-01-01') TO (MAXVALUE)", "FOR VALUES IN (1); DROP TABLE x"),
        (_BOUND_SHAPE, "DEFAULT", "DEFAULT x"),
    ],
)
def test_catalog_texts_are_checked_for_shape(shape, good: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    assert shape.fullmatch(good) and not shape.fullmatch(bad)
