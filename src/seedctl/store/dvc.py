"""Small process helpers: the external programs seedctl drives (dvc), and process liveness."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


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


class DvcWhenTold:
    """`dvc ARGS` whose interpreter starts, and imports DVC, now, but which does nothing until
    run(): DVC's start-up (~0.3 s) overlaps the caller's own checks. Left without run() (or
    abandon()), it is killed before it has read or written anything.

    It stands for `[*dvc_command, *args]` (dvc_command: [dvc()] or [python, "-m", "dvc"]);
    with warm=False, or when the warm process cannot start, run() simply runs that. Popen's
    keyword arguments (stdin, stdout, stderr) are passed to either; text mode.
    """

    def __init__(self, args: Sequence[str], *, dvc_command: Sequence[str], warm: bool, cwd: Path,
                 env: Mapping[str, str], **popen: Any) -> None:
        self.args, self.plain = list(args), [*dvc_command, *args]
        self.cwd, self.env, self.popen = cwd, dict(env), popen
        self._proc: subprocess.Popen[str] | None = None
        self._go: int | None = None
        if not warm:
            return
        read, write = os.pipe()
        try:
            # -P: neither cwd nor a script directory on sys.path: project files shadow no module.
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "seedctl.tools", "--dvc-when-told", str(read), *self.args],
                cwd=cwd, env=self.env, pass_fds=(read,), text=True, **popen)
            self._go, write = write, -1
        except OSError:
            self._proc = None
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)

    def run(self) -> subprocess.CompletedProcess[str]:
        """Let DVC go and wait for it: its exit status and any piped output."""
        proc, go = self._proc, self._go
        self._proc = self._go = None
        if proc is not None and go is not None:
            try:
                os.write(go, b"go")
            except OSError:  # it died before being told: nothing was done, run the plain command
                proc.communicate()
                proc = None
            finally:
                os.close(go)
        if proc is None:
            return subprocess.run(self.plain, cwd=self.cwd, env=self.env, text=True, check=False, **self.popen)
        try:
            stdout, stderr = proc.communicate()
        except BaseException:  # as subprocess.run: interrupted, the child does not outlive us
            proc.kill()
            proc.wait()
            raise
        return subprocess.CompletedProcess(self.plain, proc.returncode, stdout, stderr)

    def abandon(self) -> None:
        """Unless run() was called: kill it (it is still importing or waiting) and reap it."""
        proc, go = self._proc, self._go
        self._proc = self._go = None
        if go is not None:
            os.close(go)
        if proc is not None:
            proc.kill()
            proc.communicate()

    def __enter__(self) -> DvcWhenTold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abandon()


def _dvc_when_told(fd: int, args: list[str]) -> int:
    """The child of DvcWhenTold: import DVC, wait for b"go" on fd, then be `dvc ARGS`
    (what the `dvc` console script and `python -m dvc` do: dvc.cli.main)."""
    import importlib

    for module in _DVC_WARM.get(args[0] if args else "", _DVC_WARM[""]):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001, S112 - only warming up; the real import reports problems
            continue
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        told = pipe.read(2)
    if told != b"go":
        return 0
    from dvc.cli import main

    sys.argv = ["dvc", *args]
    return main(args)


# The slow imports of `dvc repro` / `dvc pull` / `dvc push` on their way (python -X importtime).
_DVC_BASE = ("dvc.cli", "dvc.cli.parser", "dvc.repo", "dvc.repo.index", "dvc.repo.plots", "dvc.scm",
             "dvc.lock", "dvc.config", "dvc.dvcfile", "networkx", "ruamel.yaml")
_DVC_REMOTE = (*_DVC_BASE, "dvc.repo.fetch", "dvc_data.index.fetch", "rich.console", "s3fs", "dvc_s3")
_DVC_WARM = {"": _DVC_BASE, "repro": (*_DVC_BASE, "dvc.repo.reproduce", "dvc.stage", "dvc.output"),
             "pull": _DVC_REMOTE, "push": _DVC_REMOTE}


if __name__ == "__main__" and sys.argv[1:2] == ["--dvc-when-told"]:
    sys.exit(_dvc_when_told(int(sys.argv[2]), sys.argv[3:]))
