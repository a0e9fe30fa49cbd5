"""The external programs seedctl drives (dvc), found next to this interpreter first."""

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
