"""Small process helpers: the external programs seedctl drives (dvc), and process liveness."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def dvc() -> str:
    """The dvc executable of this environment (a cron job may not have the venv on PATH)."""
    local = Path(sys.executable).parent / "dvc"
    return str(local) if local.exists() else (shutil.which("dvc") or "dvc")


def env_with_venv() -> dict[str, str]:
    """os.environ with this interpreter's bin dir first: stage commands say `python`."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
    }


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; it is not serving anything.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
