"""`seedctl restore` starts without what it does not use: pyarrow.compute (~40 ms to import: it
wraps every Arrow function; the restore path calls them through seedctl/kernels.py), pyarrow.dataset
(which imports it), and the code of other commands. Checked in a fresh interpreter (this one has
imported everything), at import and after the work of a load: rendering rows as binary COPY and
as CSV, and selecting a time range's rows."""

from __future__ import annotations

import subprocess
import sys

NOT_AT_START = ("pyarrow.compute", "pyarrow.dataset", "seedctl.store.prune", "seedctl.snapshot.schedule")
RESTORE_PATH = "import seedctl.cli.app, seedctl.restore.run, seedctl.restore.acquire"

LOAD_WORK = """
import sys
import pyarrow as pa
from seedctl.cli import app
sys.meta_path.insert(0, app._WithoutPandas())  # as main() does: pandas (installed here) imports pyarrow.compute
from seedctl.pg.copybinary import binary_layout, encode_batch
from seedctl.restore.load import _csv
from seedctl import kernels
from seedctl.timerange import TimeRange, time_mask

def field(name, t, pg, encoding=None):
    meta = {b"pg_type": pg.encode()} | ({b"encoding": encoding.encode()} if encoding else {})
    return pa.field(name, t, metadata=meta)

schema = pa.schema([
    field("on", pa.date32(), "date", "epoch_days"),
    field("at", pa.timestamp("us", tz="UTC"), "timestamp with time zone", "epoch_us"),
    field("ok", pa.bool_(), "boolean"),
    field("n", pa.int64(), "bigint"),
    field("name", pa.large_string(), "text"),
])
batch = pa.record_batch([
    pa.array([0, None, 2**31 - 1, -(2**31)], pa.date32()),  # infinities: exact text
    pa.array([0, None, 2**63 - 1, 86_400_000_000], pa.timestamp("us", tz="UTC")),
    pa.array([True, None, False, True]),
    pa.array([1, None, -1, 2**62]),
    pa.array(["a", None, "", "ü"], pa.large_string()),
], schema=schema)
assert len(encode_batch(batch, binary_layout(schema))) > 0
assert len(_csv(batch)) > 0
kept = kernels.filter_rows(batch, time_mask(batch.column("at"), schema.field("at"), TimeRange(0, 10**11), "t"))
assert kept.num_rows == 2
"""


def loaded_after(code: str) -> list[str]:
    check = f"import sys; print(','.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{check}"], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_the_restore_path_imports_nothing_it_does_not_use() -> None:
    assert loaded_after(RESTORE_PATH) == []


def test_a_load_computes_without_pyarrow_compute() -> None:
    assert loaded_after(f"{RESTORE_PATH}\n{LOAD_WORK}") == []


def test_the_check_sees_pyarrow_compute() -> None:
    """The check itself: an Array method that imports pyarrow.compute is seen."""
    assert loaded_after(f"{RESTORE_PATH}\nimport pyarrow as pa\npa.array([1]).cast(pa.int32())") == ["pyarrow.compute"]
