"""Everything that drives DVC, and the only module that imports it (change DVC's version here).

DVC is asked through its Python API, in this process: its Repo, its stages (which changed,
and recording a stage that ran: `reproduce`), the cache's object paths (`oid_to_path`), its
configuration, `push` and `status --cloud`, its file system. No `dvc` process is started.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.errors import ConfigError, RemoteError, SeedctlError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from seedctl.store.settings import RemoteSettings


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


def reproduce(
    project_root: Path,
    stages: Sequence[tuple[str, Callable[[], None]]],
    *,
    force: bool,
    say: Callable[[str], None],
    first_always_runs: bool = False,
) -> list[str]:
    """`dvc repro` of these stages (dvc.yaml's names, in its order), each stage's command
    being the given function, run in this process: the stages that ran.

    A stage runs when DVC says it changed (its command, deps, params or outs differ from
    dvc.lock; an always_changed stage always), or with force; then DVC saves its outputs to
    the cache and writes its dvc.lock entry: DVC's own Stage.save, commit and dump, what
    `dvc repro` does after a stage's command (and `dvc commit` after one run by hand). A
    failing stage raises before its entry is written, as under `dvc repro`.

    first_always_runs: the first stage runs whatever DVC would say (the export: DVC cannot
    see into a database, and dvc.yaml marks it always_changed), so it starts at once, while
    a thread opens the Repo, takes DVC's lock and reads dvc.yaml and dvc.lock (DVC's
    imports among it: 0.7 s, most of an unchanged snapshot's wait).
    """
    import threading
    import time
    from contextlib import ExitStack

    ran = []
    with ExitStack() as held:
        by_name: dict[str, Any] = {}
        failed: list[BaseException] = []

        def load() -> None:
            from dvc.repo import lock_repo

            # DVC's "Generating/Updating lock file 'dvc.lock'" (one per stage recorded): the
            # operator reads seedctl's own line per stage instead. DVC's warnings still show.
            logging.getLogger("dvc.dvcfile").setLevel(logging.WARNING)
            try:
                repo = held.enter_context(open_repo(project_root))
                held.enter_context(lock_repo(repo))
                held.enter_context(repo.scm_context(quiet=True))
                # Read once, before any stage's outputs are recorded, as `dvc repro` builds
                # its graph: each stage is then compared with dvc.lock as it was. The
                # project's dvc.yaml only: not other DVC files (a `dvc add`ed file's .dvc,
                # restore/dvc.yaml), and no walk of the tree.
                by_name.update((st.name, st) for st in repo.stage.load_file(os.path.join(repo.root_dir, "dvc.yaml")))
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
                failed.append(exc)

        loading = threading.Thread(target=load, name="seedctl-dvc-load", daemon=True)
        loading.start()
        started = time.perf_counter()
        try:
            if first_always_runs and stages:
                stages[0][1]()
        finally:
            loading.join()  # DVC's lock is released (held closes) only once it is taken
        if failed:
            raise failed[0]
        for index, (name, run) in enumerate(stages):
            stage = by_name.get(name)
            if stage is None:
                raise ConfigError(f"dvc.yaml has no stage {name!r}", "restore dvc.yaml from git")
            already_ran = first_always_runs and index == 0
            if not (already_ran or force or stage.changed()):
                say(f"stage {name}: unchanged, skipped")
                continue
            if not already_ran:
                started = time.perf_counter()
                run()
            # The run cache only for stages whose outputs are all cached (as Stage.run).
            stage.save(run_cache=all(out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot)))
            stage.commit()
            stage.dump(update_pipeline=False)
            say(f"stage {name}: ran in {time.perf_counter() - started:.2f} s")
            ran.append(name)
    return ran


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
