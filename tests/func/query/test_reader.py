"""The promise of seedctl.open_snapshot: any tag read on a fresh clone, straight from the S3
server, without a checkout or a database, gives exactly what a restore of that tag gives;
only the files of the asked time range are fetched; a damaged object never yields data."""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from seedctl.errors import IntegrityError, SeedctlError
from seedctl.pg.pgtypes import to_pg_text
from seedctl.read.reader import open_snapshot
from tests.helpers import cached_files, fresh_clone, new_database

if TYPE_CHECKING:
    from seedctl_dev.devs3 import S3Server
    from seedctl_dev.devserver import TempPostgres
    from tests.helpers import Project

KEYS = {"usdcop_m5_ohlcv": "time, symbol", "macro_indicators_daily": "fecha", "trades_history": "id", "fidelity": "id"}


def native(field: pa.Field) -> bool:
    """Columns compared as values: floats (NaN, -0.0) and booleans print differently in Arrow."""
    return pa.types.is_floating(field.type) or pa.types.is_boolean(field.type)


def comparable(value: object) -> object:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else struct.pack(">d", value)  # -0.0 is not 0.0
    return value


def as_pg_text(table: pa.Table, url: str) -> list[tuple[object, ...]]:
    """Rows as PostgreSQL input text (floats and booleans as values), in stored (key) order.

    Dates and timestamps go through PostgreSQL once, to its canonical text ('.000000' and
    '' are the same fraction)."""
    columns = []
    for i, field in enumerate(table.schema):
        if native(field):
            columns.append([comparable(v) for v in table.column(i).to_pylist()])
            continue
        text = to_pg_text(table.column(i), field).to_pylist()
        if pa.types.is_temporal(field.type):
            kind = "date" if pa.types.is_date(field.type) else "timestamptz" if field.type.tz else "timestamp"
            with psycopg.connect(url) as conn:
                conn.execute("SET TimeZone = 'UTC'")
                text = [
                    r[0]
                    for r in conn.execute(
                        sql.SQL(
                            "SELECT x::{}::text FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n"
                        ).format(sql.SQL(kind)),
                        (text,),
                    )
                ]
        columns.append(text)
    return list(zip(*columns))


def db_rows(url: str, name: str, table: pa.Table) -> list[tuple[object, ...]]:
    """The same from the database: output text, floats exact as float8, booleans."""

    def expr(field: pa.Field) -> sql.Composable:
        if pa.types.is_floating(field.type):
            return sql.SQL("{}::float8").format(sql.Identifier(field.name))
        if native(field):
            return sql.Identifier(field.name)
        # The type's own output function (char(n) keeps its padding, as COPY gives it); NULL stays NULL.
        return sql.SQL("CASE WHEN {c} IS NOT NULL THEN format('%s', {c}) END").format(c=sql.Identifier(field.name))

    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(expr(f) for f in table.schema), sql.Identifier(name), sql.SQL(KEYS[name])
        )
        return [tuple(comparable(v) for v in r) for r in conn.execute(query)]


def table_columns(project: Project, table: str) -> list[str]:
    return [
        r[0]
        for r in project.sql(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            table,
        )
    ]


def test_two_tags_read_on_a_fresh_clone_equal_their_restores(
    two_tags: Project, s3_env: dict[str, str], pg_server: TempPostgres, tmp_path: Path
) -> None:
    clone = fresh_clone(two_tags, tmp_path / "reader")
    head = clone.git("rev-parse", "HEAD")
    read: dict[str, dict[str, pa.Table]] = {}
    for tag in ("seeds/v1", "seeds/v2"):
        with open_snapshot(rev=tag, project=clone.root) as snap:
            assert set(snap.tables) == set(KEYS)
            read[tag] = {name: snap.read(name) for name in snap.tables}
            assert {n: t.num_rows for n, t in read[tag].items()} == {n: i.rows for n, i in snap.tables.items()}

    # Nothing was checked out: the work tree is still at HEAD, clean, without data files.
    assert clone.git("rev-parse", "HEAD") == head
    assert clone.git("status", "--porcelain", "--untracked-files=no") == ""
    assert not (clone.seeds / "data").exists()
    assert read["seeds/v1"]["trades_history"].num_rows + 1 == read["seeds/v2"]["trades_history"].num_rows

    for tag, tables in read.items():
        target = new_database(pg_server)
        restored = clone.seedctl("restore", "--rev", tag, env={**s3_env, "DATABASE_URL": target})
        assert restored.returncode == 0, restored.stderr
        for name, table in tables.items():
            got, want = as_pg_text(table, target), db_rows(target, name, table)
            assert len(got) == len(want), f"{tag} {name}"
            for i, column in enumerate(table.column_names):
                assert [r[i] for r in got] == [r[i] for r in want], f"{tag} {name}.{column}"


def test_a_time_range_fetches_only_its_partitions(two_tags: Project, s3_env: dict[str, str], tmp_path: Path) -> None:
    clone = fresh_clone(two_tags, tmp_path / "reader")
    snap = open_snapshot(rev="seeds/v1", project=clone.root)
    parts = {p["period"]: p for p in snap.manifest["tables"]["usdcop_m5_ohlcv"]["parts"]}
    assert {"2024-01", "2024-03"} <= set(parts) and "2024-02" not in parts and len(parts) > 20

    table = snap.read("usdcop_m5_ohlcv", columns=["close", "time"], since="2024-01-01", until="2024-03-31")

    fetched = cached_files(clone)
    assert fetched == {parts["2024-01"]["md5"], parts["2024-03"]["md5"]}  # 2 of the table's files
    expected = two_tags.sql(
        "SELECT count(*), min(time), max(time) FROM usdcop_m5_ohlcv WHERE time >= '2024-01-01' AND time < '2024-04-01'"
    )[0]
    times = table.column("time")
    assert table.column_names == ["close", "time"]
    assert (table.num_rows, times[0].as_py(), times[-1].as_py()) == expected
    snap.close()

    # Inside one month: that month's file only, already cached; both ends are inclusive.
    start = two_tags.sql("SELECT min(time) FROM usdcop_m5_ohlcv WHERE time >= '2024-03-01'")[0][0]
    since, until = start + timedelta(hours=1), start + timedelta(hours=2)
    with open_snapshot(rev="seeds/v1", project=clone.root) as again:
        edge = again.read("usdcop_m5_ohlcv", columns=["time"], since=since.isoformat(), until=until)
    assert cached_files(clone) == fetched
    assert edge.column("time").to_pylist() == [
        r[0]
        for r in two_tags.sql(
            "SELECT time FROM usdcop_m5_ohlcv WHERE time BETWEEN %s AND %s ORDER BY time", since, until
        )
    ]
    assert edge.column("time")[0].as_py() == since and edge.column("time")[-1].as_py() == until

    # A range no file covers: no rows, the table's columns; asking the impossible is one line.
    with open_snapshot(rev="seeds/v1", project=clone.root) as again:
        empty = again.read("usdcop_m5_ohlcv", since="2024-02-01", until="2024-02-29")
        assert empty.num_rows == 0 and empty.column_names == table_columns(two_tags, "usdcop_m5_ohlcv")
        with pytest.raises(SeedctlError, match="fidelity has no time column"):
            again.read("fidelity", since="2024-01-01")
        with pytest.raises(SeedctlError, match="no column 'volume_usd'"):
            again.read("usdcop_m5_ohlcv", columns=["time", "volume_usd"])
        with pytest.raises(SeedctlError, match="no table 'usdcop_m1'.*usdcop_m5_ohlcv"):
            again.read("usdcop_m1")


def test_a_damaged_remote_object_raises_and_only_its_table_range_is_affected(
    two_tags: Project, s3_env: dict[str, str], s3_server: S3Server, tmp_path: Path
) -> None:
    good = (two_tags.seeds / "data" / "usdcop_m5_ohlcv" / "2024-03.parquet").read_bytes()
    md5 = hashlib.md5(good).hexdigest()  # noqa: S324 - DVC's content address
    key = f"seedctl/files/md5/{md5[:2]}/{md5[2:]}"
    s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=key, Body=good[:-1] + b"X")
    clone = fresh_clone(two_tags, tmp_path / "reader")
    snap = open_snapshot(rev="seeds/v2", project=clone.root)

    with pytest.raises(IntegrityError) as refused:
        snap.read("usdcop_m5_ohlcv", since="2024-01-15", until="2024-03-15")
    assert "usdcop_m5_ohlcv" in str(refused.value) and "data/usdcop_m5_ohlcv/2024-03.parquet" in str(refused.value)
    assert refused.value.exit_code == 6

    # Other months of the table, and other tables, still read.
    january = snap.read("usdcop_m5_ohlcv", since="2024-01-01", until="2024-01-31")
    assert (
        january.num_rows
        == two_tags.sql("SELECT count(*) FROM usdcop_m5_ohlcv WHERE time >= '2024-01-01' AND time < '2024-02-01'")[0][0]
    )
    assert snap.read("trades_history").num_rows == two_tags.sql("SELECT count(*) FROM trades_history")[0][0]

    # The damaged copy did not stay in the cache: once the remote is repaired, the read works.
    s3_server.client().put_object(Bucket=s3_env["MINIO_BUCKET"], Key=key, Body=good)
    march = snap.read("usdcop_m5_ohlcv", since="2024-03-01", until="2024-03-31")
    assert (
        march.num_rows
        == two_tags.sql("SELECT count(*) FROM usdcop_m5_ohlcv WHERE time >= '2024-03-01' AND time < '2024-04-01'")[0][0]
        > 0
    )
    snap.close()


def test_the_checkout_reads_from_its_work_tree_without_a_remote(
    two_tags: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_BUCKET"):
        monkeypatch.delenv(name)
    (two_tags.root / ".dvc" / "config.local").unlink()

    with open_snapshot(project=two_tags.root) as snap:
        trades = snap.read("trades_history", columns=["id"])
        assert snap.rev is None and snap.version == snap.manifest["version"]
    ids = [r[0] for r in two_tags.sql("SELECT id FROM trades_history ORDER BY id")]
    assert trades.column("id").to_pylist() == ids
