"""The facts a benchmark's numbers depend on: the machine and the versions of every tool."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from harness import BIN, REPO
from seedctl_dev.devserver import TempPostgres


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "ram_bytes": mem,
        "kernel": platform.release(),
        "os": _os_name(),
        "loadavg_start": os.getloadavg(),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def versions(pg: TempPostgres) -> dict[str, str]:
    import pyarrow

    def out(args: list[str]) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    with psycopg.connect(pg.url("postgres")) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    commit = out(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    dirty = out(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "stages", "dvc.yaml", "params.yaml"])
    return {
        "postgresql": f"{server} ({pg.flavor} binaries, {pg.bin_dir})",
        "pg_dump": out([str(pg.bin_dir / "pg_dump"), "--version"]),
        "pg_restore": out([str(pg.bin_dir / "pg_restore"), "--version"]),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "psycopg": psycopg.__version__,
        "dvc": out([str(BIN / "dvc"), "--version"]),
        "seedctl": commit + (" (with uncommitted changes in src/)" if dirty else ""),
    }
