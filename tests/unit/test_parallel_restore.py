"""The pure parts of the parallel restore (restore/parallel.py): job count, which tables may
be staged, and the staged table's definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedctl.pg.catalog import Column, Sequence, TableSchema
from seedctl.pg.hypertable import Hypertable
from seedctl.restore.acquire import TableData
from seedctl.restore.parallel import (
    not_stageable,
    shared_sequences,
    split_files,
    staged_index,
    staged_table,
)
from seedctl.restore.plan import Action, TableResult
from seedctl.timerange import TimeRange

ID_SEQ = Sequence("public", "trades_id_seq", "bigint", 1, 1, 1, 2**63 - 1, 1, False, ["public", "trades", "id"], "a")
TABLE = TableSchema(
    "public",
    "trades",
    [
        Column("id", "bigint", "int8", -1, True, identity="a"),
        Column("opened_at", "timestamptz", "timestamptz", -1, True),
    ],
    ["id"],
    indexes=["CREATE INDEX trades_opened_at_idx ON public.trades USING btree (opened_at)"],
    sequences=[ID_SEQ],
    foreign_keys=[{"name": "fk", "definition": "FOREIGN KEY (id) REFERENCES public.x(id)"}],
)


def result(table: TableSchema = TABLE, action: Action = "create", window: TimeRange | None = None) -> TableResult:
    data = TableData("trades", table, {}, "local", parquet=[Path("a.parquet")], window=window or TimeRange(None, None))
    return TableResult(data, action, None if action == "create" else 5)


def test_a_plain_table_to_create_with_its_own_identity_sequence_may_be_staged() -> None:
    assert not_stageable(result()) is None


@pytest.mark.parametrize("action", ["load", "replace", "append", "keep", "create-empty"])
def test_only_tables_the_restore_creates_are_staged(action: Action) -> None:
    assert not_stageable(result(action=action)) == f"action {action}"


def test_hypertables_partitioned_tables_and_time_ranges_stay_in_the_one_transaction() -> None:
    hyper = TableSchema("public", "trades", TABLE.columns, ["id"], hypertable=Hypertable("opened_at", "7 days"))
    assert not_stageable(result(hyper)) == "a hypertable"
    parted = TableSchema("public", "trades", TABLE.columns, ["id"], partition_key="RANGE (opened_at)")
    assert not_stageable(result(parted)) == "partitioned"
    assert not_stageable(result(window=TimeRange(1_700_000_000_000_000, None))) == "a time range"


@pytest.mark.parametrize(
    "owned_by",
    [[], ["public", "other", "id"], ["public", "trades", "missing_column"]],
    ids=["unowned", "another-tables", "no-such-column"],
)
def test_a_sequence_that_is_not_the_tables_own_is_not_staged(owned_by: list[str]) -> None:
    seq = Sequence("public", "shared_seq", "bigint", 1, 1, 1, 2**63 - 1, 1, False, owned_by)
    table = TableSchema("public", "trades", TABLE.columns, ["id"], sequences=[seq])
    assert not_stageable(result(table)) == "sequence public.shared_seq is not its own"


def test_a_sequence_in_another_schema_is_not_staged() -> None:
    seq = Sequence("ids", "trades_id_seq", "bigint", 1, 1, 1, 2**63 - 1, 1, False, ["public", "trades", "id"])
    table = TableSchema("public", "trades", TABLE.columns, ["id"], sequences=[seq])
    assert not_stageable(result(table)) == "sequence ids.trades_id_seq is not its own"


def test_a_sequence_another_table_draws_from_keeps_both_tables_in_the_one_transaction() -> None:
    own = Sequence("public", "shared_ids", "bigint", 100, 5, 1, 2**63 - 1, 1, False, ["public", "a", "id"])
    columns = [Column("id", "bigint", "int8", -1, True)]
    a = result(TableSchema("public", "a", columns, ["id"], sequences=[own]))
    b = result(TableSchema("public", "b", columns, ["id"], sequences=[own]))  # DEFAULT nextval('shared_ids')
    shared = shared_sequences([a, b, result()])
    assert shared == {"public.shared_ids"}
    assert not_stageable(a, shared) == "sequence public.shared_ids is shared with another table"
    assert not_stageable(b, shared) == "sequence public.shared_ids is not its own"
    assert not_stageable(result(), shared) is None


def test_an_index_is_moved_onto_the_staged_table() -> None:
    statement = 'CREATE UNIQUE INDEX "Odd idx" ON "My Schema"."T" USING btree (x) WHERE (y > 0)'
    assert staged_index(statement, '"My Schema"."T"', 'seedctl_restore_1_0a0b0c0d_0."T"') == (
        'CREATE UNIQUE INDEX "Odd idx" ON seedctl_restore_1_0a0b0c0d_0."T" USING btree (x) WHERE (y > 0)'
    )


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE INDEX i ON ONLY public.trades USING btree (x)",  # a partitioned table's
        "CREATE INDEX i ON public.other USING btree (x)",
        "CREATE INDEX i ON public.trades USING btree ((' ON public.trades USING '::text))",  # twice: ambiguous
    ],
)
def test_an_index_not_naming_the_table_exactly_once_is_not_rewritten(statement: str) -> None:
    assert staged_index(statement, "public.trades", "s.trades") is None


def test_the_staged_table_takes_its_sequences_along_and_leaves_foreign_keys_to_the_switch() -> None:
    staged = staged_table(TABLE, "seedctl_restore_7_0a0b0c0d_0", ["CREATE INDEX i ON s.trades USING btree (x)"])
    assert staged.qualified == "seedctl_restore_7_0a0b0c0d_0.trades"
    assert [s.qualified for s in staged.sequences] == ["seedctl_restore_7_0a0b0c0d_0.trades_id_seq"]
    assert staged.sequences[0].owned_by == ["seedctl_restore_7_0a0b0c0d_0", "trades", "id"]
    assert staged.sequences[0].identity == "a" and staged.sequences[0].start == ID_SEQ.start
    assert staged.indexes == ["CREATE INDEX i ON s.trades USING btree (x)"]
    assert staged.foreign_keys == []
    assert staged.columns == TABLE.columns and staged.primary_key == ["id"]
    assert TABLE.schema == "public" and TABLE.foreign_keys  # the restore's own description is untouched


@pytest.mark.parametrize(
    ("rows", "parts", "groups"),
    [
        ([100, 100, 100, 100], 2, [[0, 1], [2, 3]]),
        ([10, 10, 10, 300], 2, [[0, 1, 2], [3]]),  # the big month alone
        ([300, 10, 10, 10], 2, [[0], [1, 2, 3]]),
        ([5, 5, 5], 3, [[0], [1], [2]]),
        ([5, 5], 4, [[0], [1]]),  # no more shares than files
        ([7], 3, [[0]]),
        ([0, 0, 0, 0], 2, [[0], [1, 2, 3]]),  # empty months still each go somewhere
    ],
)
def test_a_tables_files_are_split_in_contiguous_shares_of_about_equal_rows(
    rows: list[int], parts: int, groups: list[list[int]]
) -> None:
    got = split_files(rows, parts)
    assert got == groups
    assert [i for g in got for i in g] == list(range(len(rows)))  # every file once, in row order
