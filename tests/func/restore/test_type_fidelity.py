"""Every value round-trips exactly: export -> Parquet -> PostgreSQL text -> same `row::text`."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seedctl.config import parse_params
from seedctl.pg.pgtypes import to_pg_text
from seedctl.snapshot.export import run_export
from tests.helpers import FIDELITY_SQL

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
        conn.execute(FIDELITY_SQL)

    result = run_export(parse_params(PARAMS), tmp_path / "seeds")

    exported = result.tables[0]
    assert exported.rows == 7
    (part,) = exported.parts
    table = pq.read_table(tmp_path / "seeds" / part.file)
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
