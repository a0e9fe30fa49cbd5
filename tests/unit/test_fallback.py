"""The fallback chain: csv.gz / sql.gz backups parsed (never executed) and validated."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from seedctl.config import Source
from seedctl.errors import IntegrityError
from seedctl.pg.catalog import Column, TableSchema
from seedctl.restore.fallback import FallbackFile, find_fallback

TABLE = TableSchema(
    schema="public",
    name="prices",
    columns=[
        Column("id", "integer", "int4", -1, True),
        Column("ts", "timestamp with time zone", "timestamptz", -1, True),
        Column("note", "text", "text", -1, False),
        Column("px", "numeric(12,4)", "numeric", 786440, False),
    ],
    primary_key=["id"],
)

PG_DUMP_HEAD = """--
-- PostgreSQL database dump
--

\\restrict O33VxZp7vR7H52Fh4e0TtAieIbDwaM4nbNvyK15kdO3TUuu5azh7UbBTtJafysG

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: prices; Type: TABLE DATA; Schema: public; Owner: postgres
--

"""

PG_DUMP_TAIL = """

--
-- Name: prices_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.prices_id_seq', 3, true);


--
-- PostgreSQL database dump complete
--

\\unrestrict O33VxZp7vR7H52Fh4e0TtAieIbDwaM4nbNvyK15kdO3TUuu5azh7UbBTtJafysG

"""


def write_gz(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def source(*entries: str, min_rows: int = 0) -> Source:
    return Source(table="public.prices", fallback=list(entries), min_rows=min_rows)


def choose(root: Path, *entries: str, min_rows: int = 0, table: TableSchema = TABLE):
    return find_fallback("prices", source(*entries, min_rows=min_rows), table, root)


def data(f: FallbackFile) -> bytes:
    return b"".join(f.chunks())


def only_reason(choice) -> str:
    assert choice.file is None, choice
    assert len(choice.tried) == 1, choice.tried
    return choice.tried[0]


# --- csv.gz ---------------------------------------------------------------------------------

CSV_BODY = (
    "id,ts,note,px\n"
    "1,2020-01-02 13:00:00+00,,1.5000\n"
    '2,2020-01-02 13:05:00+00,"",\n'
    '3,2020-01-02 13:10:00+00,"line one\nline ""two"", ü €",-2.0000\n'
)


def test_csv_happy_path(tmp_path: Path) -> None:
    write_gz(tmp_path / "backups/prices.csv.gz", CSV_BODY)
    choice = choose(tmp_path, "backups/prices.csv.gz")
    f = choice.file
    assert f is not None and choice.tried == []
    assert (f.kind, f.copy_format, f.rows) == ("csv.gz", "csv", 3)
    assert f.columns == ["id", "ts", "note", "px"]
    assert f.path == tmp_path / "backups/prices.csv.gz"
    # raw CSV data lines after the header, byte for byte: NULL (unquoted empty) stays
    # distinct from "" and the quoted newline stays inside its record
    assert data(f) == CSV_BODY.split("\n", 1)[1].encode("utf-8")


def test_csv_crlf_and_no_final_newline(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", 'id,ts\r\n1,2020-01-01\r\n2,"a\r\nb"')
    f = choose(tmp_path, "p.csv.gz").file
    assert f is not None and f.rows == 2
    assert data(f) == b'1,2020-01-01\r\n2,"a\r\nb"\n'


def test_csv_column_subset_and_order(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "ts,px,id\n2020-01-01,1,7\n")
    f = choose(tmp_path, "p.csv.gz").file
    assert f is not None
    assert f.columns == ["ts", "px", "id"]
    assert data(f) == b"2020-01-01,1,7\n"


def test_csv_missing_not_null_column(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id,note\n1,x\n")
    reason = only_reason(choose(tmp_path, "p.csv.gz"))
    assert reason == "p.csv.gz: missing NOT NULL column(s) ts of public.prices"


def test_csv_unknown_column(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id,ts,volume,Note\n1,x,2,3\n")
    reason = only_reason(choose(tmp_path, "p.csv.gz"))
    assert reason == "p.csv.gz: column(s) 3, 4 of the header are not columns of public.prices"


def test_csv_duplicate_column(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id,ts,id\n1,x,2\n")
    assert "column(s) 3 of the header repeat an earlier column" in only_reason(choose(tmp_path, "p.csv.gz"))


def test_csv_truncated_gzip_is_rejected_not_raised(tmp_path: Path) -> None:
    good = gzip.compress(("id,ts\n" + "".join(f"{i},2020-01-01\n" for i in range(5000))).encode())
    (tmp_path / "p.csv.gz").write_bytes(good[: len(good) // 2])
    reason = only_reason(choose(tmp_path, "p.csv.gz"))
    assert reason.startswith("p.csv.gz: gzip stream truncated")


def test_not_gzip_at_all(tmp_path: Path) -> None:
    (tmp_path / "p.csv.gz").write_bytes(b"id,ts\n1,2\n")
    assert "not a valid gzip stream" in only_reason(choose(tmp_path, "p.csv.gz"))


def test_csv_wrong_field_count(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", 'id,ts\n1,a\n2,"b\nc"\n3,d,e\n')
    assert only_reason(choose(tmp_path, "p.csv.gz")) == "p.csv.gz line 5: 3 fields, expected 2"


def test_csv_unclosed_quote(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", 'id,ts\n1,"abc\n')
    assert "quoted field not closed" in only_reason(choose(tmp_path, "p.csv.gz"))


def test_csv_end_of_data_marker_line_refused(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id\n1\n\\.\n2\n")
    table = TableSchema("public", "prices", [Column("id", "integer", "int4", -1, True)], ["id"])
    reason = only_reason(choose(tmp_path, "p.csv.gz", table=table))
    assert "line 3: unquoted \\. data line" in reason


def test_csv_header_only_and_min_rows(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id,ts\n1,a\n2,b\n")
    assert only_reason(choose(tmp_path, "p.csv.gz", min_rows=3)) == ("p.csv.gz: 2 rows, fewer than min_rows 3")
    f = choose(tmp_path, "p.csv.gz", min_rows=2).file
    assert f is not None and f.rows == 2


def test_csv_empty_file(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "")
    assert "no header row" in only_reason(choose(tmp_path, "p.csv.gz"))


def test_csv_not_utf8(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", b"id,ts\n1,caf\xe9\n")
    assert only_reason(choose(tmp_path, "p.csv.gz")) == "p.csv.gz line 2: not valid UTF-8"


def test_csv_streams_in_bounded_chunks(tmp_path: Path) -> None:
    n = 60_000
    write_gz(tmp_path / "p.csv.gz", "id,ts\n" + "".join(f"{i},2020-01-01 00:00:00+00\n" for i in range(n)))
    f = choose(tmp_path, "p.csv.gz").file
    assert f is not None and f.rows == n
    chunks = list(f.chunks())
    assert len(chunks) > 1 and all(len(c) < 2 << 20 for c in chunks)
    assert b"".join(chunks).count(b"\n") == n


def test_chunks_detects_file_changed_after_check(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "p.csv.gz", "id,ts\n1,a\n2,b\n")
    f = choose(tmp_path, "p.csv.gz").file
    assert f is not None
    write_gz(path, "id,ts\n1,a\n")
    with pytest.raises(IntegrityError, match="changed after it was checked"):
        data(f)
    write_gz(path, "id,ts\n1,a,x\n")
    with pytest.raises(IntegrityError, match="line 2: 3 fields"):
        data(f)


# --- locating files -------------------------------------------------------------------------


def test_glob_picks_newest_by_mtime_then_name(tmp_path: Path) -> None:
    body = "id,ts\n1,a\n"
    old = write_gz(tmp_path / "b/prices_2026-01-20.csv.gz", body)
    new = write_gz(tmp_path / "b/prices_2025-01-01.csv.gz", body)
    tie1 = write_gz(tmp_path / "b/prices_a.csv.gz", body)
    tie2 = write_gz(tmp_path / "b/prices_b.csv.gz", body)
    os.utime(old, (1_000, 1_000))
    os.utime(new, (5_000, 5_000))
    os.utime(tie1, (2_000, 2_000))
    os.utime(tie2, (2_000, 2_000))
    f = choose(tmp_path, "b/prices_*.csv.gz").file
    assert f is not None and f.path == new
    os.utime(new, (1_000, 1_000))
    f = choose(tmp_path, "b/prices_*.csv.gz").file
    assert f is not None and f.path == tie2


def test_glob_absolute_path(tmp_path: Path) -> None:
    write_gz(tmp_path / "abs/x.sql.gz", PG_DUMP_HEAD + "COPY public.prices (id, ts) FROM stdin;\n1\ta\n\\.\n")
    f = choose(tmp_path / "elsewhere", str(tmp_path / "abs/*.sql.gz")).file
    assert f is not None and f.rows == 1


def test_no_match_missing_file_and_order_of_tries(tmp_path: Path) -> None:
    write_gz(tmp_path / "bad.csv.gz", "id\n1\n")
    write_gz(tmp_path / "good.csv.gz", "id,ts\n1,a\n")
    (tmp_path / "adir.csv.gz").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    choice = choose(
        tmp_path,
        "backups/*.csv.gz",
        "missing.csv.gz",
        "adir.csv.gz",
        "../up.csv.gz",
        "notes.txt",
        "bad.csv.gz",
        "good.csv.gz",
        "never.csv.gz",
    )
    assert choice.file is not None and choice.file.path == tmp_path / "good.csv.gz"
    assert choice.tried == [
        "backups/*.csv.gz: no match for pattern",
        "missing.csv.gz: file not found",
        "adir.csv.gz: not a regular file",
        "../up.csv.gz: refused, path leaves its directory ('..')",
        "notes.txt: unsupported file type (expected *.csv.gz or *.sql.gz)",
        "bad.csv.gz: missing NOT NULL column(s) ts of public.prices",
    ]


def test_unsupported_file_type(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.json.gz", "{}")
    assert only_reason(choose(tmp_path, "p.json.gz")) == (
        "p.json.gz: unsupported file type (expected *.csv.gz or *.sql.gz)"
    )


def test_nothing_configured(tmp_path: Path) -> None:
    choice = choose(tmp_path)
    assert choice.file is None and choice.tried == ["sources.prices.fallback: no fallback entries configured"]


# --- sql.gz: COPY form ----------------------------------------------------------------------

COPY_DUMP = (
    PG_DUMP_HEAD
    + "COPY public.prices (id, ts, note, px) FROM stdin;\n"
    + "1\t2020-01-02 13:00:00+00\ta\\tb\\nc\\\\d'é;\t-1.5000\n"
    + "2\t2020-01-02 13:05:00+00\t\\N\t\\N\n"
    + "3\t2020-01-02 13:10:00+00\t\t1e+3\n"
    + "\\.\n"
    + PG_DUMP_TAIL
)


def test_sql_copy_form(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.sql.gz", COPY_DUMP)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None
    assert (f.kind, f.copy_format, f.rows) == ("sql.gz", "text", 3)
    assert f.columns == ["id", "ts", "note", "px"]
    start = COPY_DUMP.index("FROM stdin;\n") + len("FROM stdin;\n")
    assert data(f) == COPY_DUMP[start : COPY_DUMP.index("\\.\n")].encode("utf-8")


@pytest.mark.parametrize(
    "copy_line",
    [
        "COPY prices (id, ts) FROM stdin;",
        'COPY "public"."prices" ("id", "ts") FROM STDIN;',
        'copy public."prices" (id, "ts") from stdin ;',
        "COPY public.PRICES (ID, TS) FROM stdin;",
    ],
)
def test_sql_copy_name_forms(tmp_path: Path, copy_line: str) -> None:
    write_gz(tmp_path / "p.sql.gz", f"{copy_line}\n1\tx\n\\.\n")
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and f.columns == ["id", "ts"] and data(f) == b"1\tx\n"


def test_sql_copy_without_column_list_means_table_order(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.sql.gz", "COPY public.prices FROM stdin;\n1\tx\t\\N\t2\n\\.\n")
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and f.columns == ["id", "ts", "note", "px"]


def test_sql_copy_problems(tmp_path: Path) -> None:
    cases = {
        "COPY public.prices (id, ts) FROM stdin;\n1\tx\n2\n\\.\n": "line 3: 1 fields, expected 2",
        "COPY public.prices (id, ts) FROM stdin;\n1\tx\n": "line 1: COPY data not terminated by \\.",
        "COPY public.prices (id, ts) FROM stdin;\n1\t\\N\n\\.\n": "line 2: NULL in NOT NULL column ts",
        "COPY public.prices (id) FROM stdin;\n1\n\\.\n": "missing NOT NULL column(s) ts",
        'COPY public.prices (id, ts, "Note") FROM stdin;\n\\.\n': "column(s) 3 of the header are not columns of public.prices",
        "COPY public.prices (id, ts) FROM stdin; SELECT 1;\n\\.\n": "text after COPY",
        "COPY public.prices (id, ts) FROM stdin;\n1\tx\n\\.\nCOPY public.prices (ts, id) FROM stdin;\n\\.\n": "line 4: column list differs",
        "SET client_encoding = 'LATIN1';\n": "client_encoding other than UTF8 not supported",
        "COPY public.prices (id, ts) FROM stdin;\n1\tx\n\\.\nINSERT INTO public.prices (id, ts) VALUES (1, 'a')\n": "not terminated by ';'",
    }
    for i, (body, expected) in enumerate(cases.items()):
        write_gz(tmp_path / f"c{i}.sql.gz", body)
        reason = only_reason(choose(tmp_path, f"c{i}.sql.gz"))
        assert expected in reason, (body, reason)


def test_sql_without_data_for_the_table(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.sql.gz", PG_DUMP_HEAD + PG_DUMP_TAIL)
    assert only_reason(choose(tmp_path, "p.sql.gz")) == ("p.sql.gz: no data for public.prices in the file")


def test_sql_truncated_gzip(tmp_path: Path) -> None:
    body = PG_DUMP_HEAD + "COPY public.prices (id, ts) FROM stdin;\n"
    body += "".join(f"{i}\t2020-01-01 00:00:{i % 60:02d}+00\n" for i in range(20000)) + "\\.\n"
    blob = gzip.compress(body.encode())
    (tmp_path / "p.sql.gz").write_bytes(blob[:-100])
    assert "gzip stream truncated" in only_reason(choose(tmp_path, "p.sql.gz"))


# --- sql.gz: INSERT forms -------------------------------------------------------------------

INSERT_DUMP = (
    PG_DUMP_HEAD
    + "INSERT INTO public.prices VALUES (1, '2020-01-02 13:00:00+00', 'a\tb\nc\\d''é;', -1.5000);\n"
    + "INSERT INTO public.prices VALUES (2, '2020-01-02 13:05:00+00', NULL, NULL);\n"
    + "INSERT INTO public.prices VALUES (3, '2020-01-02 13:10:00+00', '', 1e+300);\n"
    + PG_DUMP_TAIL
)
INSERT_COPY_TEXT = (
    b"1\t2020-01-02 13:00:00+00\ta\\tb\\nc\\\\d'\xc3\xa9;\t-1.5000\n"
    b"2\t2020-01-02 13:05:00+00\t\\N\t\\N\n"
    b"3\t2020-01-02 13:10:00+00\t\t1e+300\n"
)


def test_sql_insert_form(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.sql.gz", INSERT_DUMP)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None
    assert (f.copy_format, f.rows, f.columns) == ("text", 3, ["id", "ts", "note", "px"])
    assert data(f) == INSERT_COPY_TEXT


def test_sql_column_inserts_form(tmp_path: Path) -> None:
    body = INSERT_DUMP.replace(
        "INSERT INTO public.prices VALUES",
        "INSERT INTO public.prices (id, ts, note, px) OVERRIDING SYSTEM VALUE VALUES",
    )
    write_gz(tmp_path / "p.sql.gz", body)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and f.rows == 3 and data(f) == INSERT_COPY_TEXT


def test_sql_insert_subset_multirow_casts_and_literals(tmp_path: Path) -> None:
    body = (
        "INSERT INTO prices (ts, id, note) VALUES\n"
        "  ('2020-01-01'::timestamp with time zone, +4, E'tab\\there\\nnl \\\\ q\\' \\x41\\101\\u00e9'),\n"
        "  ('2020-01-02'::pg_catalog.timestamptz(3), -5, '{\"a\": 1}'::jsonb),\n"
        "  ('x'::character varying(10)[], .5e-3, true),\n"
        "  ('y', 6, FALSE) ON CONFLICT DO NOTHING;\n"
    )
    write_gz(tmp_path / "p.sql.gz", body)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and f.columns == ["ts", "id", "note"] and f.rows == 4
    assert data(f).decode() == (
        '2020-01-01\t4\ttab\\there\\nnl \\\\ q\' AAé\n2020-01-02\t-5\t{"a": 1}\nx\t.5e-3\ttrue\ny\t6\tfalse\n'
    )


def test_sql_standard_conforming_strings_off(tmp_path: Path) -> None:
    body = "SET standard_conforming_strings = off;\nINSERT INTO prices (id, ts) VALUES (1, 'a\\'b;\\\\c');\n"
    write_gz(tmp_path / "p.sql.gz", body)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and data(f) == b"1\ta'b;\\\\c\n"


def test_semicolon_and_sql_inside_string_literal_is_data(tmp_path: Path) -> None:
    body = (
        "INSERT INTO public.prices (id, ts, note) VALUES (1, 'x', 'a; DROP TABLE prices; --');\n"
        "INSERT INTO public.prices (id, ts, note) VALUES (2, 'y', 'multi\nline;\n');\n"
        "INSERT INTO public.prices (id, ts, note) VALUES (3, 'z', E'it\\'s; fine');\n"
    )
    write_gz(tmp_path / "p.sql.gz", body)
    f = choose(tmp_path, "p.sql.gz").file
    assert f is not None and f.rows == 3
    assert data(f) == (b"1\tx\ta; DROP TABLE prices; --\n2\ty\tmulti\\nline;\\n\n3\tz\tit's; fine\n")


# --- hostile files --------------------------------------------------------------------------

GOOD_COPY = "COPY public.prices (id, ts) FROM stdin;\n1\tx\n\\.\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            PG_DUMP_HEAD + GOOD_COPY + "DROP TABLE public.prices;\n",
            "p.sql.gz line 28: statement other than COPY/INSERT into public.prices (a DROP statement)",
        ),
        (
            GOOD_COPY + "COPY public.users (id, name) FROM stdin;\n1\tx\n\\.\n",
            "line 4: statement other than COPY/INSERT into public.prices (a COPY statement)",
        ),
        (
            "COPY other.prices (id, ts) FROM stdin;\n1\tx\n\\.\n",
            "line 1: statement other than COPY/INSERT into public.prices",
        ),
        (
            "INSERT INTO public.prices (id, ts) SELECT id, ts FROM public.secrets;\n",
            "line 1: INSERT into public.prices without VALUES",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, now());\n",
            "line 1: VALUES may hold only literals, found a name or function call",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, (SELECT max(ts) FROM x));\n",
            "VALUES may hold only literals",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, ts);\n",
            "VALUES may hold only literals, found a name or function call",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, 'a' || 'b');\n",
            "VALUES may hold only literals",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, 'a'::text(pg_sleep(1)));\n",
            "VALUES may hold only literals",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, 'a') RETURNING pg_sleep(10);\n",
            "unexpected text after VALUES",
        ),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, 'a'); DROP TABLE public.prices;\n",
            "line 1: statement other than COPY/INSERT into public.prices (a DROP statement)",
        ),
        (
            "COPY public.prices (id, ts) FROM PROGRAM 'rm -rf /';\n",
            "only COPY public.prices [(columns)] FROM stdin; is allowed",
        ),
        (
            "COPY public.prices (id, ts) FROM '/etc/passwd';\n",
            "only COPY public.prices [(columns)] FROM stdin; is allowed",
        ),
        (
            "COPY public.prices (id, ts) FROM stdin WITH (FORMAT csv);\n",
            "only COPY public.prices [(columns)] FROM stdin; is allowed",
        ),
        (
            "COPY public.prices (id, ts) TO stdout;\n",
            "only COPY public.prices [(columns)] FROM stdin; is allowed",
        ),
        ("\\! rm -rf /\n", "line 1: psql meta-command (a line starting with a backslash) not allowed"),
        ("SELECT pg_catalog.setval(pg_sleep(100));\n", "statement other than COPY/INSERT"),
        ("SELECT pg_catalog.set_config('a', 'b', false), pg_sleep(1);\n", "statement other than"),
        ("DO $$ BEGIN PERFORM 1; END $$;\n", "statement other than COPY/INSERT"),
        ("CREATE FUNCTION f() RETURNS int AS 'select 1';\n", "statement other than COPY/INSERT"),
        ("/* hidden */ DROP TABLE x;\n", "statement other than COPY/INSERT"),
        (
            "INSERT INTO public.prices (id, ts) VALUES (1, 'x');\nTRUNCATE public.prices;\n",
            "line 2: statement other than COPY/INSERT into public.prices (a TRUNCATE statement)",
        ),
        ("INSERT INTO public.prices (id, ts) VALUES (1, E'\\000');\n", "bad E'' string literal"),
        ("INSERT INTO public.prices (id, ts) VALUES (1, NULL);\n", "NULL in NOT NULL column ts"),
        ("INSERT INTO public.prices (id, ts) VALUES (1);\n", "1 values, expected 2"),
        ("INSERT INTO public.prices (id, ts) VALUES (1, 'unterminated);\n", "not terminated by ';'"),
    ],
)
def test_hostile_sql_is_refused_never_run(tmp_path: Path, body: str, expected: str) -> None:
    write_gz(tmp_path / "p.sql.gz", body)
    reason = only_reason(choose(tmp_path, "p.sql.gz"))
    assert expected in reason, reason
    assert reason.startswith("p.sql.gz")


def test_hostile_file_falls_through_to_next_entry(tmp_path: Path) -> None:
    write_gz(tmp_path / "evil.sql.gz", GOOD_COPY + "DROP TABLE public.prices;\n")
    write_gz(tmp_path / "ok.sql.gz", GOOD_COPY)
    choice = choose(tmp_path, "evil.sql.gz", "ok.sql.gz")
    assert choice.file is not None and choice.file.path.name == "ok.sql.gz"
    assert choice.tried == [
        "evil.sql.gz line 4: statement other than COPY/INSERT into public.prices (a DROP statement)"
    ]


def test_csv_bare_carriage_return_in_unquoted_field(tmp_path: Path) -> None:
    write_gz(tmp_path / "p.csv.gz", "id,ts\n1,a\rb\n")
    assert "line 2: malformed CSV" in only_reason(choose(tmp_path, "p.csv.gz"))
