"""Everything that drives DVC, and the only module that imports it (change DVC's version here).

DVC is asked through its Python API wherever it has one: its Repo, the cache's object
paths (`oid_to_path`), its configuration, `push` and `status --cloud`, its file system.
Only `dvc repro` runs as a process (its stages print to the operator): started early by
DvcWhenTold so that DVC's imports overlap seedctl's own checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.errors import ConfigError, RemoteError, SeedctlError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from seedctl.store.settings import RemoteSettings


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


class DvcWhenTold:
    """`dvc ARGS` whose interpreter starts, and imports DVC, now, but which does nothing until
    run(): DVC's start-up (~0.3 s) overlaps the caller's own checks. Left without run() (or
    abandon()), it is killed before it has read or written anything.

    It stands for `[*dvc_command, *args]` (dvc_command: [dvc()] or [python, "-m", "dvc"]);
    with warm=False, or when the warm process cannot start, run() simply runs that. Popen's
    keyword arguments (stdin, stdout, stderr) are passed to either; text mode.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        dvc_command: Sequence[str],
        warm: bool,
        cwd: Path,
        env: Mapping[str, str],
        **popen: Any,
    ) -> None:
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
                [sys.executable, "-P", "-m", "seedctl.store.dvc", "--dvc-when-told", str(read), *self.args],
                cwd=cwd,
                env=self.env,
                pass_fds=(read,),
                text=True,
                **popen,
            )
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


# The slow imports of `dvc repro` on their way (python -X importtime).
_DVC_BASE = (
    "dvc.cli",
    "dvc.cli.parser",
    "dvc.repo",
    "dvc.repo.index",
    "dvc.repo.plots",
    "dvc.scm",
    "dvc.lock",
    "dvc.config",
    "dvc.dvcfile",
    "networkx",
    "ruamel.yaml",
)
_DVC_WARM = {"": _DVC_BASE, "repro": (*_DVC_BASE, "dvc.repo.reproduce", "dvc.stage", "dvc.output")}


# --- the Python API --------------------------------------------------------------------------

# Where DVC 3 keeps objects under a remote's URL (its object database's root), and the
# path of one there: what the remote's `oid_to_path` says, known without starting DVC
# (tests/unit/test_store_layout.py holds it to DVC's own answer).
OBJECTS = "files/md5"


def object_path(md5: str) -> str:
    """An md5 (or md5.dir) content address's path under the remote's URL."""
    return f"{OBJECTS}/{md5[:2]}/{md5[2:]}"


@contextmanager
def open_repo(project_root: Path) -> Iterator[Any]:
    """DVC's Repo of the project, closed afterwards."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        repo = Repo(str(project_root))
    except NotDvcRepoError:
        raise ConfigError(
            f"{project_root} is not a DVC project (no .dvc directory)",
            "run from the project root (where params.yaml and dvc.yaml are)",
        ) from None
    with repo:
        yield repo


def object_cache(project_root: Path) -> Callable[[str], Path]:
    """md5 (or md5.dir) -> where the project's DVC cache keeps that object (the cache's own
    `oid_to_path`: cache.dir and the cache layout are DVC's to say)."""
    with open_repo(project_root) as repo:
        odb = repo.cache.local
    return lambda md5: Path(odb.oid_to_path(md5))


def share_cache(project_root: Path, other_tree: Path) -> None:
    """Point the DVC project at other_tree (a git worktree of this one) to this project's
    cache, wherever cache.dir puts it: what `dvc cache dir --local <dir>` does there."""
    from dvc.config import Config

    with open_repo(project_root) as repo:
        cache_dir = repo.cache.local_cache_dir  # cache.dir itself (the object store is below it: files/md5)
    with Config(dvc_dir=str(other_tree / ".dvc"), validate=False).edit("local") as conf:
        conf.setdefault("cache", {})["dir"] = cache_dir


def filesystem(project_root: Path, rev: str | None) -> Any:
    """DVC's file system of the project at a git revision (work tree, cache, then remote)."""
    from dvc.api import DVCFileSystem

    return DVCFileSystem(str(project_root), rev=rev)


def preload() -> None:
    """Import what configure_remote and push need (from a thread, while other work runs)."""
    import importlib

    for module in ("dvc.config", "dvc.repo"):
        importlib.import_module(module)


def configure_remote(
    dvc_dir: Path,
    name: str,
    tracked_url: str,
    local_remote: Mapping[str, str],
    managed: Sequence[str],
    redact: Callable[[str], str],
) -> Mapping[str, Any]:
    """The remote `name` as default, its URL in .dvc/config and local_remote in .dvc/config.local.

    DVC's own config writer (what `dvc remote add/modify [--local]` use), so the files are
    exactly what those commands would leave; unchanged files are not rewritten. Local
    options in `managed` are dropped when local_remote no longer has them. Returns DVC's
    configuration as `dvc` itself will see it (all levels merged).
    """
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    edited = False
    try:
        config = Config(dvc_dir=str(dvc_dir), validate=False)
        repo = config.load_one("repo")
        if repo.get("core", {}).get("remote") != name or repo.get("remote", {}).get(name, {}).get("url") != tracked_url:
            edited = True
            with config.edit("repo") as conf:
                conf.setdefault("core", {})["remote"] = name
                conf.setdefault("remote", {}).setdefault(name, {})["url"] = tracked_url
        local = config.load_one("local")
        current = local.get("remote", {}).get(name, {})
        wanted = {k: v for k, v in current.items() if k not in managed} | dict(local_remote)
        core_remote = local.get("core", {}).get("remote")
        if current != wanted or core_remote not in (None, name):
            edited = True
            with config.edit("local") as conf:
                conf.setdefault("remote", {})[name] = wanted
                if core_remote not in (None, name):
                    conf["core"]["remote"] = name
        if edited:  # edit() reloads with validation, which fills in every default: as written, please
            config.load(validate=False)
    except DvcConfigError as exc:
        raise RemoteError(
            f"DVC configuration in {dvc_dir}: {redact(str(exc))}", "fix .dvc/config or .dvc/config.local"
        ) from None
    except OSError as exc:
        raise RemoteError(f"cannot write the DVC configuration in {dvc_dir} ({exc.strerror})") from None
    return config


def push(project_root: Path, settings: RemoteSettings) -> int:
    """`dvc push` to the remote: how many files went up."""
    with _remote_errors(settings, "push"), open_repo(project_root) as repo:
        return int(repo.push(remote=settings.name))


def not_in_remote(project_root: Path, settings: RemoteSettings) -> dict[str, Any]:
    """`dvc status --cloud`: path -> state of every cached output the remote lacks ({}: none)."""
    with _remote_errors(settings, "status --cloud"), open_repo(project_root) as repo:
        return dict(repo.status(cloud=True, remote=settings.name))


@contextmanager
def _remote_errors(settings: RemoteSettings, command: str) -> Iterator[None]:
    """DVC's failures as one RemoteError naming the remote (the keys redacted)."""
    try:
        yield
    except SeedctlError:
        raise
    except Exception as exc:  # noqa: BLE001 - DVC, s3fs and aiobotocore raise many kinds; one line
        cause = exc.__cause__ or exc.__context__
        detail = settings.redact(" ".join(f"{exc} {cause or ''}".split()))[:300]
        raise RemoteError(
            f"dvc {command} failed with remote {settings.name} ({settings.url} at {settings.endpoint_url}): {detail}",
            "check MINIO_ENDPOINT and the bucket, then `seedctl remote`",
        ) from None


if __name__ == "__main__" and sys.argv[1:2] == ["--dvc-when-told"]:
    sys.exit(_dvc_when_told(int(sys.argv[2]), sys.argv[3:]))
