"""Every value round-trips exactly: export -> Parquet -> PostgreSQL text -> same `row::text`."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seedctl.config import parse_params
from seedctl.export import run_export
from seedctl.pgtypes import to_pg_text

FIDELITY_TABLE = r"""
CREATE TABLE fidelity (
  id int PRIMARY KEY,
  n_fixed numeric(12,4), n_special numeric(12,4), n_free numeric, n_wide numeric(50,10),
  tstz timestamptz, tstz_far timestamptz, ts timestamp, d date,
  i8 bigint, i4 int, i2 smallint, b boolean, f4 real, f8 double precision,
  j jsonb, t text, vc varchar(10), ch char(3), u uuid, arr int[], iv interval, by bytea
);
INSERT INTO fidelity VALUES
 (1, 3500.1234, 1.5, 'NaN', 12345678901234567890123456789012345678.0123456789,
  '2020-01-02 13:00:00.123456+00', '2020-01-02 13:00:00+00', '2020-01-02 13:00:00.000001', '0001-01-01',
  9223372036854775807, 2147483647, 32767, true, 'NaN', 'Infinity',
  '{"a": [1, 2.50, null], "é": "ü"}', '', '', 'a', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,NULL}',
  '1 year 2 mons 3 days 04:05:06.789', '\x00ff'),
 (2, -0.0001, 'NaN', '123456789012345678901234567890.123456789012345678901234567890', -1,
  'infinity', 'infinity', '-infinity', 'infinity',
  -9223372036854775808, -2147483648, -32768, false, '-Infinity', '-0',
  '[]', E'line1\nline2 "quoted", comma', 'x', '', NULL, '{}', '-1 day', ''),
 (3, NULL, 'NaN', 'Infinity', 0, '-infinity', '-infinity', 'infinity', '-infinity',
  0, 0, 0, NULL, 1.17549435e-38, 4.9406564584124654e-324,
  'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 99999999.9999, NULL, '-Infinity', NULL, '0044-03-15 12:00:00+00 BC', '4713-01-01 00:00:00+00 BC',
  '4713-01-01 00:00:00 BC', '4713-01-01 BC', 1, 1, 1, true, 3.4028235e+38, 1.7976931348623157e+308,
  '"\u00e9x"', E'tab\there \\ back emoji 🎉 中文 \u00e9 \u200b', 'ab', 'abc', NULL, NULL, NULL, NULL),
 (5, 0, -99999999.9999, 'NaN', NULL, '1999-12-31 23:59:59.999999-05', '294276-12-31 23:59:59.999999+00',
  '10000-01-01 00:00:00', '5874897-12-31', 2, 2, 2, false, 1e-45, -4.9406564584124654e-324,
  '{"k": 1e400}', 'NULL', '""', NULL, NULL, NULL, NULL, NULL),
 (6, 1, NULL, '0', NULL, '1970-01-01 00:00:00+00', NULL, '1970-01-01', '9999-12-31', 3, 3, 3, true,
  0.1, 0.1, '{}', E'\\N', ' ', ' ', NULL, NULL, NULL, NULL),
 (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

PARAMS = {"sources": {"fidelity": {"table": "public.fidelity", "min_rows": 1}}}


def _render_csv(table: pa.Table) -> bytes:
    texts = pa.table(
        [to_pg_text(table.column(i), table.schema.field(i)) for i in range(table.num_columns)],
        names=table.column_names,
    )
    buf = io.BytesIO()
    pa_csv.write_csv(texts, buf, pa_csv.WriteOptions(include_header=False))
    return buf.getvalue()


def test_every_value_round_trips_exactly(env_db: str, tmp_path: Path) -> None:
    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute(FIDELITY_TABLE)

    result = run_export(parse_params(PARAMS), tmp_path / "seeds")

    exported = result.tables[0]
    assert exported.rows == 7
    table = pq.read_table(tmp_path / "seeds" / exported.file)
    types = {f.name: f.type for f in table.schema}
    # Compact, typed storage where it is exact...
    assert types["n_fixed"] == pa.decimal128(12, 4)
    assert types["tstz"] == pa.timestamp("us", tz="UTC")
    assert types["ts"] == pa.timestamp("us")
    assert types["d"] == pa.date32()
    assert types["f4"] == pa.float32() and types["f8"] == pa.float64()
    assert types["i8"] == pa.int64() and types["b"] == pa.bool_()
    # ...and exact text where the compact type cannot hold a value (NaN, year 294276).
    assert sorted(exported.text_columns) == ["n_special", "tstz_far"]
    assert types["n_special"] == pa.string() and types["n_free"] == pa.string()
    assert table.column("t").to_pylist()[5] == "\\N"  # not confused with NULL
    assert table.column("t").to_pylist()[6] is None
    assert table.column("vc").to_pylist()[0] == ""  # empty string stays empty, not NULL

    with psycopg.connect(env_db, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/Bogota'")  # the session zone must not matter
        conn.execute("CREATE TABLE restored (LIKE fidelity)")
        with conn.cursor().copy("COPY restored FROM STDIN (FORMAT csv)") as copy:
            copy.write(_render_csv(table))
        source = conn.execute("SELECT r::text FROM fidelity r ORDER BY id").fetchall()
        back = conn.execute("SELECT r::text FROM restored r ORDER BY id").fetchall()
        same_bits = conn.execute(
            "SELECT count(*) FROM fidelity a JOIN restored b USING (id) "
            "WHERE float8send(a.f8) IS DISTINCT FROM float8send(b.f8) "
            "   OR float4send(a.f4) IS DISTINCT FROM float4send(b.f4)"
        ).fetchone()
    assert back == source
    assert same_bits == (0,)  # -0.0, subnormals and NaN payloads bit for bit
