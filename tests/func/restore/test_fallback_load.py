"""Fallback files made by the real tools (pg_dump, COPY ... TO) load back exactly.

Each file is validated by find_fallback (which never executes anything from it), then its
chunks() are fed to `COPY <copy> (<cols>) FROM STDIN (FORMAT <copy_format>)` and the loaded
rows must equal the original ones as `row::text`.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg
import pytest
from psycopg import sql

from seedctl.config import Source
from seedctl.pg.catalog import read_table_schema
from seedctl.restore.fallback import FallbackFile, find_fallback
from seedctl_dev.devserver import TempPostgres

TABLE_DDL = r"""
CREATE TABLE public.fb_src (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts timestamptz NOT NULL,
  px numeric(12,4),
  note text,
  doc jsonb,
  ok boolean,
  f8 double precision,
  d date,
  raw bytea,
  tags text[]
);
INSERT INTO fb_src (ts, px, note, doc, ok, f8, d, raw, tags) VALUES
 ('2020-01-02 13:00:00.123456+00', 3500.1234, E'line1\nline2\ttab\\back\\slash', '{"a": [1, 2.50, null], "é": "ü"}', true, 'NaN', '2020-01-02', '\x00ff', '{a,"b c",NULL}'),
 ('2020-01-02 13:05:00+05:30', -0.0001, '', '"just a string"', false, '-Infinity', 'infinity', '', '{}'),
 ('-infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('infinity', 99999999.9999, E'\\.', '{"k": "x\ny\\z;"}', true, -0.0, '0044-03-15 BC', '\x5c', '{"\\\\"}'),
 ('2026-01-15 23:55:00-05', 1, E'quote '' and "dq" ; DROP TABLE fb_src; -- not sql', '[]', NULL, 1e-300, '1999-12-31', '\x', NULL),
 ('2021-06-01 00:00:00+00', 2, E'unicode: 日本語 🙂 Ω \u00e9 \r\n crlf', 'null', true, 1.5, '2000-02-29', NULL, '{"x,y"}'),
 ('2021-06-01 00:00:00+00', 3, E'\\N', '{}', false, 0, '2000-01-01', NULL, NULL);
INSERT INTO fb_src (ts, px, note, doc, ok, f8, d)
SELECT timestamptz '2022-01-01 00:00:00+00' + g * interval '5 minutes', g / 7.0, 'row ' || g || E'\n\t\\',
       jsonb_build_object('g', g), g % 2 = 0, g * 0.1, date '2022-01-01' + g % 365
FROM generate_series(1, 3000) AS g;
"""

SOURCE = Source(table="public.fb_src", fallback=[], min_rows=100)


def _dbname(url: str) -> str:
    return unquote(urlparse(url).path.lstrip("/"))


def _pg_dump(pg_server: TempPostgres, dbname: str, out: Path, *extra: str) -> Path:
    result = subprocess.run(
        [str(pg_server.bin_dir / "pg_dump"), "--data-only", "--table=public.fb_src", *extra],
        env={"PATH": "/usr/bin:/bin", **pg_server.env(dbname)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    with gzip.open(out, "wb") as f:
        f.write(result.stdout)
    return out


def _rows(conn: psycopg.Connection, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT r::text FROM {} r ORDER BY id").format(sql.Identifier(table)))
        return [r[0] for r in cur.fetchall()]


def _load(conn: psycopg.Connection, f: FallbackFile, target: str) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        sql.Identifier("public", target),
        sql.SQL(", ").join(map(sql.Identifier, f.columns)),
        sql.SQL(f.copy_format),
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for chunk in f.chunks():
            copy.write(chunk)


@pytest.fixture
def dumps(pg_server: TempPostgres, pg_db: str, tmp_path: Path):
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(TABLE_DDL)
        dbname = _dbname(pg_db)
        backups = tmp_path / "backups"
        backups.mkdir()
        _pg_dump(pg_server, dbname, backups / "copy.sql.gz")
        _pg_dump(pg_server, dbname, backups / "inserts.sql.gz", "--inserts")
        _pg_dump(pg_server, dbname, backups / "column_inserts.sql.gz", "--column-inserts")
        _pg_dump(pg_server, dbname, backups / "multirow.sql.gz", "--column-inserts", "--rows-per-insert=50")
        with gzip.open(backups / "export.csv.gz", "wb") as out, conn.cursor() as cur:
            with cur.copy("COPY (SELECT * FROM fb_src) TO STDOUT (FORMAT csv, HEADER)") as copy:
                for block in copy:
                    out.write(block)
        yield conn, tmp_path


@pytest.mark.parametrize(
    ("name", "kind", "copy_format"),
    [
        ("copy.sql.gz", "sql.gz", "text"),
        ("inserts.sql.gz", "sql.gz", "text"),
        ("column_inserts.sql.gz", "sql.gz", "text"),
        ("multirow.sql.gz", "sql.gz", "text"),
        ("export.csv.gz", "csv.gz", "csv"),
    ],
)
def test_real_fallback_files_load_exactly(dumps, name: str, kind: str, copy_format: str) -> None:
    conn, root = dumps
    table = read_table_schema(conn, "fb", SOURCE, timescaledb=False)
    source = Source(
        table="public.fb_src",
        min_rows=100,
        fallback=["backups/missing.sql.gz", "backups/nomatch_*.csv.gz", f"backups/{name}"],
    )
    choice = find_fallback("fb", source, table, root)
    assert choice.tried == [
        "backups/missing.sql.gz: file not found",
        "backups/nomatch_*.csv.gz: no match for pattern",
    ]
    f = choice.file
    assert f is not None
    assert (f.kind, f.copy_format, f.rows) == (kind, copy_format, 3007)
    assert f.columns == [c.name for c in table.columns]

    conn.execute("CREATE TABLE fb_copy (LIKE fb_src INCLUDING ALL)")
    try:
        with conn.transaction():
            _load(conn, f, "fb_copy")
        assert _rows(conn, "fb_copy") == _rows(conn, "fb_src")
    finally:
        conn.execute("DROP TABLE fb_copy")


def test_real_dump_with_min_rows_too_high_is_rejected(dumps) -> None:
    conn, root = dumps
    table = read_table_schema(conn, "fb", SOURCE, timescaledb=False)
    source = Source(table="public.fb_src", min_rows=5000, fallback=["backups/copy.sql.gz"])
    choice = find_fallback("fb", source, table, root)
    assert choice.file is None
    assert choice.tried == ["backups/copy.sql.gz: 3007 rows, fewer than min_rows 5000"]


def test_real_dump_of_another_table_is_rejected(dumps, pg_server: TempPostgres, pg_db: str) -> None:
    conn, root = dumps
    conn.execute("CREATE TABLE other_t (id int); INSERT INTO other_t VALUES (1)")
    result = subprocess.run(
        [str(pg_server.bin_dir / "pg_dump"), "--data-only", "--table=public.other_t", "--table=public.fb_src"],
        env={"PATH": "/usr/bin:/bin", **pg_server.env(_dbname(pg_db))},
        capture_output=True,
        timeout=120,
        check=True,
    )
    with gzip.open(root / "backups/two.sql.gz", "wb") as f:
        f.write(result.stdout)
    table = read_table_schema(conn, "fb", SOURCE, timescaledb=False)
    source = Source(table="public.fb_src", fallback=["backups/two.sql.gz"])
    choice = find_fallback("fb", source, table, root)
    assert choice.file is None
    (reason,) = choice.tried
    assert "statement other than COPY/INSERT into public.fb_src (a COPY statement)" in reason  # the text is never shown
