"""The machine's ceilings: what no client can beat here (the server's COPY in each direction
with no client work, the scratch disk's bandwidth, the upload rate to the S3 server)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psycopg

from harness import Bench, log
from measure import Series
from ohlcv import PRIMARY_KEY
from seedctl.pg.copyout import find_psql

DISK_PROBE_BYTES = 256 * 2**20
UPLOAD_PROBE_BYTES = 64 * 10**6


def bench_limits(bench: Bench, url: str, size: dict[str, Any]) -> dict[str, Any]:
    """What no client can beat here: the server's COPY in each direction with no client
    work (psql, one connection), the scratch disk's bandwidth, the upload rate to the S3
    server. Measured on one generated table, `runs` times each."""
    name, rows, runs = size["table"], size["rows"], size["runs"]
    psql = [find_psql() or bench.pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    csv = bench.work / f"{name}.csv"
    order = ", ".join(PRIMARY_KEY)
    copy_to = f"COPY (SELECT * FROM public.{name} ORDER BY {order}) TO STDOUT (FORMAT csv)"
    bench.run("limits-csv", [*psql, "-o", str(csv), "-c", copy_to])
    binary = bench.work / f"{name}.bin"  # what seedctl restore sends for this table (pg/copybinary.py)
    select = f"(SELECT * FROM public.{name} ORDER BY {order})"
    bench.run("limits-binary", [*psql, "-c", f"\\copy {select} TO '{binary}' (FORMAT binary)"])
    out, into, into_binary = Series(), Series(), Series()
    # Like seedctl restore: the table is created in the COPY's transaction (so FREEZE applies).
    create = f"CREATE TABLE public.limits_copy (LIKE public.{name})"
    copy_from = f"\\copy public.limits_copy FROM '{csv}' (FORMAT csv, FREEZE)"
    copy_from_binary = f"\\copy public.limits_copy FROM '{binary}' (FORMAT binary, FREEZE)"
    for i in range(runs):
        bench.checkpoint()
        out.add(bench.run("limits-copy-to", [*psql, "-o", "/dev/null", "-c", copy_to]))
        for series, command in ((into, copy_from), (into_binary, copy_from_binary)):
            bench.checkpoint()
            series.add(bench.run("limits-copy-from", [*psql, "-1", "-c", create, "-c", command]))
            if i == 0 and (got := bench.count(url, "public.limits_copy")) != rows:
                raise RuntimeError(f"COPY FROM loaded {got} rows, expected {rows}")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE public.limits_copy")
        log(
            f"limits run {i + 1}/{runs}: COPY TO {out.samples[-1].seconds:.2f} s, "
            f"COPY FROM csv {into.samples[-1].seconds:.2f} s, binary {into_binary.samples[-1].seconds:.2f} s"
        )
    csv_bytes, binary_bytes = csv.stat().st_size, binary.stat().st_size
    csv.unlink()
    binary.unlink()
    disk = [disk_bandwidth(bench.work) for _ in range(runs)]
    upload = [upload_seconds(bench) for _ in range(runs)]
    log(f"limits: disk write {disk[-1][0]:.2f} s, read {disk[-1][1]:.2f} s, upload {upload[-1]:.2f} s")
    return {
        "table": name,
        "rows": rows,
        "runs": runs,
        "csv_bytes": csv_bytes,
        "copy_to": out,
        "copy_to_command": f'psql -X -o /dev/null -c "{copy_to}"',
        "copy_from": into,
        "copy_from_command": f'psql -X -1 -c "{create}" -c "\\copy public.limits_copy FROM \'<csv>\' '
        f'(FORMAT csv, FREEZE)"',
        "binary_bytes": binary_bytes,
        "copy_from_binary": into_binary,
        "copy_from_binary_command": f'psql -X -1 -c "{create}" -c "\\copy public.limits_copy FROM \'<bin>\' '
        f'(FORMAT binary, FREEZE)"',
        "disk": {
            "dir": str(bench.work),
            "filesystem": filesystem(bench.work),
            "bytes": DISK_PROBE_BYTES,
            "write_seconds": [w for w, _ in disk],
            "read_seconds": [r for _, r in disk],
        },
        "upload": {"bytes": UPLOAD_PROBE_BYTES, "seconds": upload},
    }


def upload_seconds(bench: Bench) -> float:
    """One UPLOAD_PROBE_BYTES object put to the S3 server (bucket made and emptied outside the timing)."""
    client = bench.s3.client()
    body = os.urandom(UPLOAD_PROBE_BYTES)
    bench.s3.create_bucket("limits")
    started = time.perf_counter()
    client.put_object(Bucket="limits", Key="probe", Body=body)
    seconds = time.perf_counter() - started
    bench.drop_bucket("limits")
    return seconds


def disk_bandwidth(directory: Path) -> tuple[float, float]:
    """Seconds to write DISK_PROBE_BYTES into a new file in directory (1 MiB os.write calls,
    then fsync) and to read it back (from the page cache: the file was just written)."""
    block = os.urandom(2**20)
    path = directory / "disk-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(DISK_PROBE_BYTES // len(block)):
            view = memoryview(block)
            while view:  # a regular file takes the whole block, but os.write may return less
                view = view[os.write(fd, view) :]
        os.fsync(fd)
        write = time.perf_counter() - started
    finally:
        os.close(fd)
    buf = bytearray(len(block))
    with path.open("rb", buffering=0) as fh:
        started = time.perf_counter()
        while fh.readinto(buf):
            pass
        read = time.perf_counter() - started
    path.unlink()
    return write, read


def filesystem(path: Path) -> str:
    """Type and device of the mount that holds path (from /proc/mounts), or "?"."""
    best, found = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if str(path.resolve()).startswith(mount.rstrip("/") + "/") and len(mount) > len(best):
                best, found = mount, f"{fstype} on {device}, mounted at {mount}"
    except OSError:
        pass
    return found
