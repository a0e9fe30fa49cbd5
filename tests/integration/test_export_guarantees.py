"""Export guarantees: byte-identical output for identical content, one point in time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from seedctl import sample
from seedctl.config import parse_params
from seedctl.export import run_export

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
    return {p.name: p.read_bytes() for p in sorted((seeds / "data").iterdir())}


def test_same_content_same_bytes_and_one_row_changes_one_file(env_db: str, tmp_path: Path) -> None:
    with psycopg.connect(env_db) as conn:
        sample.load_sample_data(conn, scale=0.1)
    params = parse_params(SAMPLE_PARAMS)

    run_export(params, tmp_path / "a")
    # Same content, physically rewritten in another order: bytes must not change.
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("CLUSTER usdcop_m5_ohlcv USING usdcop_m5_ohlcv_time_idx")
        conn.execute("VACUUM FULL macro_indicators_daily")
    run_export(params, tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    assert pq.ParquetFile(tmp_path / "a" / "data" / "usdcop_m5_ohlcv.parquet").metadata.num_row_groups > 2
    assert (tmp_path / "a" / "schema.json").read_bytes() == (tmp_path / "b" / "schema.json").read_bytes()

    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("UPDATE trades_history SET quantity = quantity + 1 WHERE id = 7")
    run_export(params, tmp_path / "c")
    third = _files(tmp_path / "c")
    assert {name for name in first if first[name] != third[name]} == {"trades_history.parquet"}


def test_tables_are_read_at_one_point_in_time(env_db: str, tmp_path: Path) -> None:
    """Rows committed together to two tables during an export appear in both or neither."""
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL)")
        conn.execute("CREATE TABLE fills (id bigint PRIMARY KEY, order_id bigint NOT NULL)")
        # Enough rows that exporting `orders` takes a while, with writers running meanwhile.
        conn.execute("INSERT INTO orders SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 300000) g")
        conn.execute("INSERT INTO fills SELECT g, g FROM generate_series(1, 300000) g")
    params = parse_params({"sources": {
        "orders": {"table": "orders"},  # exported first...
        "fills": {"table": "fills"},  # ...so a second transaction would see newer fills
    }})

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
