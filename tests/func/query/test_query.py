"""`seedctl query`: SQL over any snapshot tag from a fresh clone, straight from the S3 server,
printed, or written as CSV / Parquet; bad SQL is one line and a non-zero exit."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from seedctl_dev.devs3 import S3Server
from tests.helpers import cached_files, fresh_clone

if TYPE_CHECKING:
    from tests.helpers import Project

TRADES = "SELECT id, side, entry_price FROM trades_history ORDER BY id"


def test_query_prints_writes_csv_and_parquet_for_any_tag(
    two_tags: Project, s3_env: dict[str, str], tmp_path: Path
) -> None:
    clone = fresh_clone(two_tags, tmp_path / "analyst")
    count, top = two_tags.sql("SELECT count(*), max(close) FROM usdcop_m5_ohlcv")[0]

    shown = clone.seedctl(
        "query", "--rev", "seeds/v1", "SELECT count(*) AS n, max(close) AS top FROM usdcop_m5_ohlcv", env=s3_env
    )
    assert shown.returncode == 0, shown.stderr
    assert f"{count}" in shown.stdout and f"{top}" in shown.stdout and "1 row" in shown.stdout

    trades = [(str(i), s, str(p)) for i, s, p in two_tags.sql(TRADES.replace("side", "side::text"))]
    v1 = clone.seedctl("query", "--rev", "seeds/v1", "--csv", "-", TRADES, env=s3_env)
    v2 = clone.seedctl("query", "--rev", "seeds/v2", "--csv", "-", TRADES, env=s3_env)
    assert v1.returncode == 0 and v2.returncode == 0, v1.stderr + v2.stderr
    rows_v1 = list(csv.reader(io.StringIO(v1.stdout)))
    rows_v2 = list(csv.reader(io.StringIO(v2.stdout)))
    assert rows_v1[0] == rows_v2[0] == ["id", "side", "entry_price"]
    assert [tuple(r) for r in rows_v2[1:]] == trades  # v2 is what the database holds now
    assert [tuple(r) for r in rows_v1[1:]] == trades[:-1]  # v1 lacks the last trade

    to_file = tmp_path / "trades.csv"
    written = clone.seedctl("query", "--rev", "seeds/v2", "--csv", str(to_file), TRADES, env=s3_env)
    assert written.returncode == 0, written.stderr
    assert to_file.read_text() == v2.stdout and f"{len(trades)} rows written" in written.stdout

    out = tmp_path / "daily.parquet"
    daily = (
        "SELECT CAST(o.time AS DATE) AS day, count(*) AS bars, max(m.fecha) AS macro_day "
        "FROM usdcop_m5_ohlcv o JOIN macro_indicators_daily m ON m.fecha <= CAST(o.time AS DATE) "
        "WHERE o.time >= '2025-01-01' GROUP BY 1 ORDER BY 1"
    )
    result = clone.seedctl("query", "--rev", "seeds/v2", "--parquet", str(out), daily, env=s3_env)
    assert result.returncode == 0, result.stderr
    got = pq.read_table(out).to_pylist()
    expected = two_tags.sql(
        "SELECT o.time::date, count(*), max(m.fecha) FROM usdcop_m5_ohlcv o "
        "JOIN macro_indicators_daily m ON m.fecha <= o.time::date "
        "WHERE o.time >= '2025-01-01' GROUP BY 1 ORDER BY 1"
    )
    assert [(r["day"], r["bars"], r["macro_day"]) for r in got] == expected and expected

    # Nothing checked out, nothing left in the work tree.
    assert not (clone.seeds / "data").exists()
    assert clone.git("status", "--porcelain", "--untracked-files=no") == ""
    assert isinstance(top, Decimal)


def test_bad_sql_is_one_line_and_a_non_zero_exit(two_tags: Project, s3_env: dict[str, str], tmp_path: Path) -> None:
    clone = fresh_clone(two_tags, tmp_path / "analyst")
    for statement, says in (
        ("SELEC * FROM trades_history", "syntax error"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT no_such_column FROM trades_history", "no_such_column"),
    ):
        result = clone.seedctl("query", "--rev", "seeds/v1", statement, env=s3_env)
        assert result.returncode == 12, (statement, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seedctl: error: "), result.stderr
        assert says in lines[0] and "usdcop_m5_ohlcv" in lines[0]  # the hint lists the tables
        assert result.stdout == ""

    unknown = clone.seedctl("query", "--rev", "seeds/v9", "SELECT 1", env=s3_env)
    assert unknown.returncode != 0 and "seeds/v9" in unknown.stderr and len(unknown.stderr.splitlines()) == 1


def test_a_time_range_reads_only_its_partitions_and_a_damaged_one_is_refused(
    two_tags: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    clone = fresh_clone(two_tags, tmp_path / "analyst")
    manifest = json.loads(two_tags.git("show", "seeds/v1:seeds/manifest.json"))
    parts = {p["period"]: p for p in manifest["tables"]["usdcop_m5_ohlcv"]["parts"]}
    statement = "SELECT count(*) AS n, min(time) AS first, max(time) AS last FROM usdcop_m5_ohlcv"

    ranged = clone.seedctl(
        "query",
        "--rev",
        "seeds/v1",
        "--since",
        "2024-01-01",
        "--until",
        "2024-03-31",
        "--csv",
        "-",
        statement,
        env=s3_env,
    )
    assert ranged.returncode == 0, ranged.stderr
    assert cached_files(clone) == {parts["2024-01"]["md5"], parts["2024-03"]["md5"]}  # 2 of the table's files
    (n, _first, _last) = list(csv.reader(io.StringIO(ranged.stdout)))[1]
    expected = two_tags.sql("SELECT count(*) FROM usdcop_m5_ohlcv WHERE time >= '2024-01-01' AND time < '2024-04-01'")[
        0
    ][0]
    assert int(n) == expected

    # The March object damaged on the remote, in a clone that never fetched it: refused, exit 6.
    good = (two_tags.seeds / "data" / "usdcop_m5_ohlcv" / "2024-03.parquet").read_bytes()
    md5 = hashlib.md5(good).hexdigest()  # noqa: S324 - DVC's content address
    key = f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"
    s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=key, Body=good[:-1] + b"X")
    other = fresh_clone(two_tags, tmp_path / "other")
    refused = other.seedctl(
        "query", "--rev", "seeds/v1", "--since", "2024-03-01", "--until", "2024-03-31", statement, env=s3_env
    )
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 6 and len(lines) == 1, refused.stderr
    assert "data/usdcop_m5_ohlcv/2024-03.parquet" in lines[0]
