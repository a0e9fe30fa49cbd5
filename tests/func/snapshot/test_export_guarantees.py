"""Export guarantees: byte-identical output for identical content, one point in time."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from seedctl.config import parse_params
from seedctl.pg import copyout
from seedctl.snapshot import export, sums
from seedctl.snapshot.export import run_export
from seedctl_dev import sample

SAMPLE_PARAMS = {
    "sources": {
        "usdcop_m5_ohlcv": {"table": "usdcop_m5_ohlcv", "time_column": "time"},
        "macro_indicators_daily": {"table": "macro_indicators_daily", "time_column": "fecha"},
        "trades_history": {"table": "trades_history"},
    },
    # Several row groups per file, so chunking could matter if it leaked into the bytes.
    "backup": {"batch_rows": 4096},
}


def _files(seeds: Path) -> dict[str, bytes]:
    data = seeds / "data"
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("partition", ["none", "month"])
def test_same_content_same_bytes_and_one_row_changes_one_file(env_db: str, tmp_path: Path, partition: str) -> None:
    with psycopg.connect(env_db) as conn:  # by month: enough bars for several row groups a month
        sample.load_sample_data(conn, scale=1.0 if partition == "month" else 0.1)
    raw = copy.deepcopy(SAMPLE_PARAMS)
    raw["backup"]["batch_rows"] = 1024 if partition == "month" else 4096
    raw["sources"]["usdcop_m5_ohlcv"]["partition"] = partition
    raw["sources"]["macro_indicators_daily"]["partition"] = "year" if partition == "month" else "none"
    params = parse_params(raw)

    run_export(params, tmp_path / "a")
    # Same content, physically rewritten in another order: bytes must not change.
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("CLUSTER usdcop_m5_ohlcv USING usdcop_m5_ohlcv_time_idx")
        conn.execute("VACUUM FULL macro_indicators_daily")
    run_export(params, tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    if partition == "none":
        assert pq.ParquetFile(tmp_path / "a" / "data" / "usdcop_m5_ohlcv.parquet").metadata.num_row_groups > 2
    else:  # monthly files, some of several row groups
        months = [name for name in first if name.startswith("usdcop_m5_ohlcv/")]
        assert len(months) > 12 and "usdcop_m5_ohlcv/2020-01.parquet" in months
        assert max(pq.ParquetFile(tmp_path / "a" / "data" / m).metadata.num_row_groups for m in months) > 1
    assert (tmp_path / "a" / "schema.json").read_bytes() == (tmp_path / "b" / "schema.json").read_bytes()

    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("UPDATE trades_history SET quantity = quantity + 1 WHERE id = 7")
    run_export(params, tmp_path / "c")
    third = _files(tmp_path / "c")
    assert {name for name in first if first[name] != third[name]} == {"trades_history.parquet"}

    # One bar changed in March 2021: exactly that month's file changes.
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE usdcop_m5_ohlcv SET volume = volume + 1 WHERE time = "
            "(SELECT min(time) FROM usdcop_m5_ohlcv WHERE time >= '2021-03-01')"
        )
    run_export(params, tmp_path / "d")
    fourth = _files(tmp_path / "d")
    expected = "usdcop_m5_ohlcv/2021-03.parquet" if partition == "month" else "usdcop_m5_ohlcv.parquet"
    assert {name for name in third if third[name] != fourth[name]} == {expected}


def test_tables_are_read_at_one_point_in_time(env_db: str, tmp_path: Path) -> None:
    """Rows committed together to two tables during an export appear in both or neither."""
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL)")
        conn.execute("CREATE TABLE fills (id bigint PRIMARY KEY, order_id bigint NOT NULL)")
        # Enough rows that exporting `orders` takes a while, with writers running meanwhile.
        conn.execute("INSERT INTO orders SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 300000) g")
        conn.execute("INSERT INTO fills SELECT g, g FROM generate_series(1, 300000) g")
    params = parse_params(
        {
            "sources": {
                "orders": {"table": "orders"},  # exported first...
                "fills": {"table": "fills"},  # ...so a second transaction would see newer fills
            }
        }
    )

    stop = threading.Event()
    committed: list[int] = []

    def writer() -> None:
        with psycopg.connect(env_db) as conn:
            next_id = 1_000_000
            while not stop.is_set():
                with conn.transaction():
                    conn.execute("INSERT INTO orders VALUES (%s, 'concurrent')", (next_id,))
                    conn.execute("INSERT INTO fills VALUES (%s, %s)", (next_id, next_id))
                committed.append(next_id)
                next_id += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(committed) < 20:
            time.sleep(0.01)
        during_start = len(committed)
        run_export(params, tmp_path / "seeds")
        during_end = len(committed)
    finally:
        stop.set()
        thread.join(timeout=30)

    assert during_end - during_start > 10, "the writer must commit while the export runs"
    orders = pq.read_table(tmp_path / "seeds" / "data" / "orders.parquet", columns=["id"])
    fills = pq.read_table(tmp_path / "seeds" / "data" / "fills.parquet", columns=["id"])
    new_orders = {i for i in orders.column("id").to_pylist() if i >= 1_000_000}
    new_fills = {i for i in fills.column("id").to_pylist() if i >= 1_000_000}
    assert new_orders == new_fills
    assert new_orders  # the snapshot point is after some concurrent commits


def test_checksums_run_on_a_second_connection_in_the_same_snapshot(
    env_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content checksums are computed alongside the export, on another connection that
    imported its snapshot (an earlier version silently fell back to computing them in line,
    because PostgreSQL exports no snapshot from a savepoint)."""
    with psycopg.connect(env_db) as conn:
        sample.load_sample_data(conn, scale=0.01)
    calls: list[object] = []
    real = sums._locked_at

    def spy(snapshot_id: str, schemas: dict[str, object]) -> object:
        calls.append(real(snapshot_id, schemas))  # type: ignore[arg-type]
        return calls[-1]

    monkeypatch.setattr(sums, "_locked_at", spy)
    result = export.run_export(parse_params(SAMPLE_PARAMS), tmp_path / "seeds")
    assert len(calls) == 1 and calls[0] is not None
    assert all(t.checksum.rows == t.rows for t in result.tables)


def test_psql_and_psycopg_readers_write_the_same_bytes(
    env_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COPY's rows come through psql when it is installed (its C loop costs a fraction of
    psycopg's per-row calls), else through psycopg: the snapshot is the same either way."""
    assert copyout.find_psql() is not None, "the test machine has PostgreSQL client binaries"
    with psycopg.connect(env_db) as conn:
        sample.load_sample_data(conn, scale=0.05)
    params = parse_params(SAMPLE_PARAMS)
    run_export(params, tmp_path / "psql")
    monkeypatch.setattr(copyout, "find_psql", lambda: None)
    run_export(params, tmp_path / "psycopg")
    assert _files(tmp_path / "psql") == _files(tmp_path / "psycopg")
    assert (tmp_path / "psql" / "schema.json").read_bytes() == (tmp_path / "psycopg" / "schema.json").read_bytes()
