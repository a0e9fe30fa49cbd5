"""Where seedctl's export and restore time goes: each phase timed on its own, in process.

Every phase runs the library's own code paths (the same query, CSV options, codecs,
writer settings, rendering, DDL and checksum query) on data held in memory, so the phases
can be told apart; the sum is close to, but not exactly, the streamed run (which overlaps
the server's work with the client's). A cProfile of the real run is taken as a cross-check.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from seedctl.config import load_params
from seedctl.hashing import sha256_file
from seedctl.layout import load_manifest
from seedctl.parts import table_parts
from seedctl.pg import copyout, db
from seedctl.pg.catalog import TableSchema, read_table_schema
from seedctl.pg.checksum import CHECKSUM_ALGORITHM, checksum_columns, recorded_checksum, table_checksum
from seedctl.pg.copybinary import HEADER, TRAILER, binary_layout, encode_batch
from seedctl.pg.ddl import add_keys_and_indexes, create_table
from seedctl.pg.pgtypes import codec_for, select_expr, to_copy_csv
from seedctl.restore.run import restore_snapshot
from seedctl.snapshot import export, writer


@contextmanager
def _database(url: str) -> Iterator[None]:
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def _timed(phases: list[tuple[str, float]], label: str, func: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = func()
    phases.append((label, time.perf_counter() - started))
    return value


def _drain(cur: psycopg.Cursor, query: sql.Composable, keep: bool) -> tuple[list[bytes], int]:
    chunks: list[bytes] = []
    size = 0
    with cur.copy(query) as copy:
        for data in copy:
            size += len(data)
            if keep:
                chunks.append(bytes(data))
    return chunks, size


def _top(profile: cProfile.Profile, limit: int = 12) -> list[dict[str, Any]]:
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({func})",
                "calls": calls,
                "tottime": round(tottime, 3),
                "cumtime": round(cumtime, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime"], reverse=True)
    return rows[:limit]


def export_breakdown(url: str, table: str, project: Path, *, thorough: bool) -> dict[str, Any]:
    """Phases of exporting public.<table>; `project` is a scratch project exporting only it.

    thorough: also Parquet writer alternatives and a cProfile of the real run_export.
    """
    params = load_params(project / "params.yaml")
    backup = params.backup
    source = next(iter(params.sources.values()))
    phases: list[tuple[str, float]] = []
    extra: list[tuple[str, float]] = []
    with _database(url), db.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            snapshot_id = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
            schema = read_table_schema(conn, "t", source, timescaledb=False)
            codecs = [codec_for(c) for c in schema.columns]
            cols = sql.SQL(", ").join(select_expr(c, k) for c, k in zip(schema.columns, codecs))
            order = sql.SQL(", ").join(sql.Identifier(c) for c in schema.order_by())
            ident = schema.identifier()
            query = sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT csv)").format(cols, ident, order)

            def through_psql(q: sql.Composed) -> bytes:
                with copyout.copy_out(conn, q, snapshot_id, ident) as stream:
                    blocks = []
                    while block := stream.read(copyout.BLOCK_BYTES):
                        blocks.append(block)
                        stream.taken()
                    return b"".join(blocks)

            data = _timed(
                phases,
                "COPY (SELECT <columns> ORDER BY pk) TO STDOUT csv, read through psql "
                "(the export's reader): server + transfer",
                lambda: through_psql(query),
            )
            csv_bytes = len(data)
            _timed(
                extra,
                "same COPY read through psycopg (one Python call per row; the reader without psql)",
                lambda: _drain(cur, query, keep=False),
            )
            unordered = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv)").format(cols, ident)
            _timed(extra, "same COPY without ORDER BY", lambda: through_psql(unordered))
            epoch = sql.SQL(", ").join(select_expr(c, codec_for(c, "epoch")) for c in schema.columns)
            exact = sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT csv)").format(epoch, ident, order)
            _timed(
                extra,
                "same COPY with the exact epoch expressions for timestamps (the fallback for "
                "infinities and other eras)",
                lambda: through_psql(exact),
            )
            binary = sql.SQL("COPY (SELECT * FROM {} ORDER BY {}) TO STDOUT (FORMAT binary)").format(ident, order)
            _, binary_bytes = _timed(
                extra,
                "COPY binary of plain columns (transfer only, no parsing)",
                lambda: _drain(cur, binary, keep=False),
            )
            names, types = checksum_columns(schema.columns)
            _timed(
                phases,
                f"content checksum query ({CHECKSUM_ALGORITHM}; runs on a second connection, alongside)",
                lambda: table_checksum(conn, ident, names, algorithm=CHECKSUM_ALGORITHM, types=types),
            )
            _timed(
                extra,
                "content checksum, row-text-v1 (snapshots before typed-hash-v2)",
                lambda: table_checksum(conn, ident, names),
            )
            _timed(
                extra,
                "count(*) alone (scan cost without hashing)",
                lambda: cur.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone(),
            )
            inner = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(cols, ident, order)
            plan = [r[0] for r in cur.execute(sql.SQL("EXPLAIN ") + inner).fetchall()]
            work_mem = cur.execute("SHOW work_mem").fetchone()[0]

    def parse() -> list[pa.RecordBatch]:
        # open_csv already parses the first block: it belongs inside the timing.
        reader = export._csv_reader(io.BytesIO(data), codecs)
        return list(reader)

    batches = _timed(phases, "CSV parsing (pyarrow streaming reader, export's options)", parse)
    rows = sum(b.num_rows for b in batches)
    data = b""  # frees the buffer (rebound, not deleted: the closures above name it)
    arrow_schema = pa.schema([export.arrow_field(c, k) for c, k in zip(schema.columns, codecs)])
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"

        def write() -> int:
            files = writer.PartFiles(data_dir, "t", source, schema, arrow_schema, codecs, backup)
            try:
                for batch in batches:
                    files.add(batch)
                return sum(p.rows for p in files.finish())
            finally:
                files.close()

        _timed(
            phases,
            f"codec conversion + row grouping + Parquet write ({backup.compression}, partition: {source.partition})",
            write,
        )
        result = {
            "rows": rows,
            "phases": phases,
            "alternatives": extra,
            "csv_bytes": csv_bytes,
            "binary_bytes": binary_bytes,
            "parquet_bytes": sum(f.stat().st_size for f in data_dir.rglob("*.parquet")),
            "plan": plan,
            "work_mem": work_mem,
        }
        if not thorough:
            return result
        table_in_memory = pa.Table.from_batches(batches).rename_columns(arrow_schema.names).cast(arrow_schema)
        chosen = writer.writer_options(backup, arrow_schema)
        for label, opts in (
            ("Parquet write, compression none", {"compression": None, "compression_level": None}),
            ("Parquet write, zstd level 1", {"compression": "zstd", "compression_level": 1}),
            (
                "Parquet write, dictionary for every column (the earlier setting)",
                {"use_dictionary": True, "column_encoding": None},
            ),
        ):

            def alt(o: dict[str, Any] = opts) -> None:
                pq.write_table(
                    table_in_memory, Path(tmp) / "alt.parquet", row_group_size=backup.batch_rows, **{**chosen, **o}
                )

            _timed(extra, label, alt)
        table_in_memory = batches = None  # frees them (rebound, not deleted: closures name them)

    with _database(url):
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        export.run_export(params, project / "seeds")
        profile.disable()
        total = time.perf_counter() - started
    return {**result, "run_export_seconds": total, "profile_top": _top(profile)}


def restore_breakdown(pg: Any, project: Path, batch_rows: int, *, thorough: bool) -> dict[str, Any]:
    """Phases of restoring the scratch project's snapshot into fresh empty databases.

    thorough: also a cProfile of the real restore (restore_snapshot: acquire + load).
    """
    manifest = load_manifest(project / "seeds")
    ((name, entry),) = manifest["tables"].items()
    table = TableSchema.from_dict(entry["schema"])
    paths = [project / "seeds" / p["file"] for p in table_parts(entry)]
    phases: list[tuple[str, float]] = []
    extra: list[tuple[str, float]] = []
    _timed(phases, "sha256 of the data files (verified before loading)", lambda: [sha256_file(p) for p in paths])

    def read() -> list[pa.RecordBatch]:
        return [b for p in paths for b in pq.ParquetFile(p).iter_batches(batch_size=batch_rows)]

    batches = _timed(phases, "Parquet read (iter_batches)", read)
    names = batches[0].schema.names

    encoders = binary_layout(batches[0].schema)
    assert encoders is not None, "the bench's OHLCV table maps to binary COPY"

    def render_binary() -> list[bytes]:
        return [bytes(encode_batch(batch, encoders)) for batch in batches]

    def render_csv() -> list[bytes]:
        out = []
        for batch in batches:
            texts = [to_copy_csv(batch.column(i), batch.schema.field(i)) for i in range(batch.num_columns)]
            buf = io.BytesIO()
            pa_csv.write_csv(
                pa.RecordBatch.from_arrays(texts, names=names), buf, pa_csv.WriteOptions(include_header=False)
            )
            out.append(buf.getvalue())
        return out

    rendered = {
        "binary": _timed(phases, "render for COPY binary (copybinary.encode_batch; restore's path)", render_binary),
        "csv": _timed(extra, "render for COPY csv (to_copy_csv, write_csv; the path for other tables)", render_csv),
    }
    rendered_bytes = sum(len(c) for c in rendered["binary"])
    batches = None  # frees them (rebound, not deleted: the closures above name them)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in names)

    def load(dbname: str, fmt: str, record: list[tuple[str, float]], suffix: str = "") -> None:
        url = pg.create_database(dbname)
        try:
            with _database(url), db.connect() as conn:
                create_table(conn, table)  # the implicit transaction starts here, as in restore
                query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {}, FREEZE)").format(
                    table.identifier(), columns, sql.SQL(fmt)
                )

                def copy_in() -> None:
                    with conn.cursor() as cur, cur.copy(query) as copy:
                        if fmt == "binary":
                            copy.write(HEADER)
                        for chunk in rendered[fmt]:
                            copy.write(chunk)
                        if fmt == "binary":
                            copy.write(TRAILER)

                _timed(record, f"COPY FROM STDIN {fmt} (FREEZE){suffix}", copy_in)
                _timed(record, f"ADD PRIMARY KEY (index build){suffix}", lambda: add_keys_and_indexes(conn, table))
                _timed(
                    record,
                    f"content checksum query (verification){suffix}",
                    lambda: recorded_checksum(conn, table.identifier(), entry),
                )
                _timed(record, f"COMMIT{suffix}", conn.commit)
        finally:
            pg.drop_database(dbname)

    load("bd_restore", "binary", phases)
    load("bd_restore_csv", "csv", extra, " (CSV variant)")
    rendered = {}  # frees them (rebound, not deleted: the closures above name it)
    result = {
        "table": name,
        "rows": entry["rows"],
        "phases": phases,
        "alternatives": extra,
        "rendered_bytes": rendered_bytes,
    }
    if not thorough:
        return result

    url = pg.create_database("bd_restore_profile")
    try:
        with _database(url):
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            restore_snapshot(project, pull=False)  # the real acquire + load
            profile.disable()
            total = time.perf_counter() - started
    finally:
        pg.drop_database("bd_restore_profile")
    return {**result, "restore_run_seconds": total, "profile_top": _top(profile)}
