"""A snapshot's files in seeds/, verified: workspace -> DVC cache -> remote, self-healing.

Each file is checked against the manifest's sha256 and its DVC content address (md5).
Bytes that match neither are moved to a quarantine folder (.dvc/tmp/quarantine/<UTC time>/,
git- and dvc-ignored), never deleted, and the file is fetched again: a repaired remote
repairs every checkout, with no manual cache surgery.

DVC's workspace commands are not used here, for two reasons seen with DVC 3.67:
`dvc checkout <part of a directory output>` whose directory listing is not in the cache
removes the WHOLE output directory (every other table's files with it), and
`dvc pull` / `dvc checkout` trust a cached object whose bytes are damaged ("Everything is
up to date"). The objects are read from the cache DVC's Repo names and from the remote at
DVC's content address, so `dvc status`, `dvc pull` and `dvc push` agree afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from seedctl.errors import RemoteError, SeedctlError
from seedctl.hashing import hash_file, hash_stream, sha256_file
from seedctl.layout import SCHEMA_FILE
from seedctl.parts import table_parts
from seedctl.store import s3
from seedctl.store.dvc import object_cache

Cause = Literal["missing", "corrupt", "credentials", "unreachable", "unconfigured", "local-only"]
FoundIn = Literal["local", "cache", "remote"]
_THREADS = 8
# md5 -> the path of that object in the DVC cache (dvc.object_cache).
Cache = Callable[[str], Path]

# What each cause means for the operator, and the command that fixes it.
ADVICE: dict[str, str] = {
    "missing": "repair the remote: run `seedctl push` in a checkout of this snapshot whose `seedctl verify` "
    "passes (it uploads what the remote lacks), then run this again",
    "corrupt": "repair the remote: run `seedctl push` in a checkout of this snapshot whose `seedctl verify` "
    "passes (it re-uploads damaged objects), then run this again",
    "credentials": "check MINIO_ACCESS_KEY and MINIO_SECRET_KEY",
    "unreachable": "check MINIO_ENDPOINT and that the server is running",
    "unconfigured": "set MINIO_ENDPOINT, MINIO_ACCESS_KEY and MINIO_SECRET_KEY (or .env)",
    "local-only": "fetch it with `seedctl pull` (needs the remote)",
}


@dataclass(frozen=True)
class Wanted:
    """One file of the snapshot: its path under seeds/ and what its bytes must be."""

    rel: str
    sha256: str
    size: int | None = None
    md5: str | None = None
    table: str | None = None  # None: not a table's data (schema.json)


@dataclass(frozen=True)
class Failure:
    """Why a file could not be had. detail never holds file content."""

    cause: Cause
    detail: str
    hint: str | None = None  # the remote's own advice (bucket, region, TLS), more precise than the cause's

    @property
    def advice(self) -> str:
        return self.hint or ADVICE[self.cause]

    def line(self) -> str:
        return f"{self.detail} -- {self.advice}"


@dataclass
class Fetched:
    found: dict[str, FoundIn] = field(default_factory=dict)  # rel -> where its good bytes came from
    failures: dict[str, Failure] = field(default_factory=dict)
    quarantined: list[Path] = field(default_factory=list)


def matches(path: Path, want: Wanted) -> bool:
    """The file exists with the manifest's size and sha256."""
    return (
        path.is_file() and (want.size is None or path.stat().st_size == want.size) and sha256_file(path) == want.sha256
    )


def wanted_files(manifest: dict[str, Any]) -> list[Wanted]:
    """Every file a snapshot's checkout holds under seeds/: data files, then schema.json."""
    files = [
        Wanted(p["file"], p["sha256"], p.get("size_bytes"), p.get("md5"), name)
        for name, entry in manifest["tables"].items()
        for p in table_parts(entry)
    ]
    return [*files, Wanted(SCHEMA_FILE, manifest["schema_sha256"], None, manifest.get("schema_md5"))]


def lock_listings(project_root: Path) -> tuple[str, ...]:
    """The DVC directory objects (md5.dir) dvc.lock names: `dvc status` and `verify` read them."""
    import yaml

    try:
        lock = yaml.safe_load((project_root / "dvc.lock").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ()
    return tuple(
        sorted(
            {
                str(out.get("md5"))
                for stage in (lock.get("stages") or {}).values()
                for out in stage.get("outs") or []
                if str(out.get("md5", "")).endswith(".dir")
            }
        )
    )


class Quarantine:
    """Moves bad bytes aside into one timestamped folder per run (created when first used)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder: Path | None = None
        self.moved: list[Path] = []
        self._lock = threading.Lock()  # downloads run in threads

    def move(self, path: Path, name: str) -> Path:
        with self._lock:
            if self.folder is None:
                self.folder = self.root / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            dest = self.folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(dest))
            self.moved.append(dest)
            return dest


def quarantine_root(project_root: Path) -> Path:
    return project_root / ".dvc" / "tmp" / "quarantine"


def fetch(
    project_root: Path,
    seeds_dir: Path,
    wanted: list[Wanted],
    *,
    remote: Callable[[], RemoteReader] | None,
    quarantine: Quarantine,
    listings: tuple[str, ...] = (),
    complete_listings: bool = False,
) -> Fetched:
    """Make every wanted file in seeds_dir match the manifest, from the cache or the remote.

    remote: opens the remote when first needed (None: this machine only). listings: DVC
    directory objects (md5.dir) to have in the cache too, so `dvc status` and `seedctl
    verify` can read them; failing to get one is not a failure of the data. They are looked
    at only when some file was not right, unless complete_listings (no DVC start-up, ~0.5 s,
    for a restore whose files are all in place).
    """
    result = Fetched()
    todo = [w for w in wanted if not matches(seeds_dir / w.rel, w)]
    result.found = {w.rel: "local" for w in wanted if w not in todo}
    if not todo and not (listings and complete_listings):
        return result
    cache = object_cache(project_root)
    absent_listings = [m for m in listings if not _good_listing(cache(m), m, quarantine)]
    if not todo and not absent_listings:
        return result
    need_remote: list[Wanted] = []
    for want in todo:
        target = seeds_dir / want.rel
        _set_aside(target, want, cache, quarantine)
        if want.md5 is None:
            result.failures[want.rel] = Failure(
                "missing",
                f"{want.rel}: the manifest records no md5 for it "
                "(an old snapshot): cannot look it up in the cache or remote",
            )
        elif _from_cache(cache, want, target, quarantine):
            result.found[want.rel] = "cache"
        else:
            need_remote.append(want)
    if not need_remote and not absent_listings:
        result.quarantined = quarantine.moved
        return result
    if remote is None:
        for want in need_remote:
            result.failures[want.rel] = Failure("local-only", f"{want.rel} is not on this machine (not pulling)")
    else:
        _from_remote(remote, cache, seeds_dir, need_remote, absent_listings, quarantine, result)
    result.quarantined = quarantine.moved
    return result


def _set_aside(target: Path, want: Wanted, cache: Cache, quarantine: Quarantine) -> None:
    """Clear the way for the good file: a copy of some cached object (another snapshot's
    version of it) is simply replaced; bytes known nowhere else are quarantined."""
    for parent in target.parents:  # a file where a directory must go: the table's partitioning changed
        if parent.is_dir():
            break
        if parent.exists():
            quarantine.move(parent, f"workspace/{parent.name}")
            break
    if not target.is_file():
        if target.exists() or target.is_symlink():
            quarantine.move(target, f"workspace/{want.rel}")
        return
    size, md5, _ = hash_file(target)
    cached = cache(md5)
    if cached.is_file() and cached.stat().st_size == size:
        target.unlink()
        return
    quarantine.move(target, f"workspace/{want.rel}")


def _from_cache(cache: Cache, want: Wanted, target: Path, quarantine: Quarantine) -> bool:
    """Copy the cached object to target if its bytes are right; damaged ones are quarantined."""
    assert want.md5 is not None
    cached = cache(want.md5)
    if not cached.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        size, md5, sha = hash_file(cached, copy_to=tmp)
        if md5 == want.md5 and sha == want.sha256 and size == (want.size if want.size is not None else size):
            tmp.replace(target)
            return True
    except OSError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    if cached.exists():
        quarantine.move(cached, f"cache/{want.md5}")
    return False


def _place_copy(src: Path, target: Path) -> None:
    """Copy src to target atomically (a reader never sees a half-written file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _good_listing(path: Path, md5: str, quarantine: Quarantine) -> bool:
    """A cached directory listing is present and its bytes are its name; a damaged one is set aside."""
    if not path.is_file():
        return False
    if hash_file(path)[1] == md5.removesuffix(".dir"):
        return True
    quarantine.move(path, f"cache/{md5}")
    return False


class RemoteReader:
    """GET objects from the DVC remote by content address, each verified before it enters the cache."""

    def __init__(self, settings: Any, client: Any) -> None:
        self.settings, self.client = settings, client

    def download(self, md5: str, dest: Path) -> Failure | tuple[int, str, str]:
        """Write the object to dest; (size, md5, sha256) of what came, or why nothing did."""
        from botocore import exceptions as bx

        if not s3.MD5.fullmatch(md5):  # a damaged manifest or dvc.lock: no object can have that name
            return Failure("missing", f"{md5!r} is not a DVC content address: the remote has no such object")
        key = s3.object_key(self.settings.prefix, md5)
        where = f"s3://{self.settings.bucket}/{key}"
        try:
            body = self.client.get_object(Bucket=self.settings.bucket, Key=key)["Body"]
            with dest.open("wb") as fh:
                return hash_stream(body, fh)
        except (bx.ClientError, bx.BotoCoreError) as exc:
            if s3.missing(exc):
                return Failure("missing", f"object {where} is missing from the remote")
            error = s3.remote_error(self.settings, exc, f"GET {where}")
            return Failure(cause_of(error), error.message, error.hint)
        except OSError as exc:
            detail = self.settings.redact(" ".join(str(exc).split()))[:200]
            return Failure("unreachable", f"GET {where} failed: {type(exc).__name__}: {detail}")


def open_remote(project_root: Path, params: Any) -> RemoteReader:
    """The remote, configured and checked (RemoteError with a `cause` when it cannot be used)."""
    from seedctl.store.remote import connect

    settings, client, _ = connect(project_root, params)
    return RemoteReader(settings, client)


def cause_of(error: SeedctlError) -> Cause:
    """The cause a RemoteError from open_remote stands for."""
    if isinstance(error, RemoteError):
        return getattr(error, "cause", "unconfigured" if "is not set" in error.message else "unreachable")
    return "unreachable"


def _from_remote(
    remote: Callable[[], RemoteReader],
    cache: Cache,
    seeds_dir: Path,
    need: list[Wanted],
    listings: list[str],
    quarantine: Quarantine,
    result: Fetched,
) -> None:
    try:
        reader = remote()
    except SeedctlError as exc:
        failure = Failure(cause_of(exc), exc.message, exc.hint)
        for want in need:
            result.failures[want.rel] = failure
        return

    # The remote as a whole failing (no answer, keys refused) is the answer for every object:
    # the rest are not asked, each after its own timeout.
    gave_up: list[Failure] = []

    def get(md5: str, want: Wanted | None) -> Failure | None:
        if gave_up:
            return gave_up[0]
        failure = fetch_one(md5, want)
        if failure is not None and failure.cause in ("unreachable", "credentials"):
            gave_up.append(failure)
        return failure

    def fetch_one(md5: str, want: Wanted | None) -> Failure | None:
        final = cache(md5)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{id(want)}.tmp")
        try:
            got = reader.download(md5, tmp)
            label = want.rel if want else f"directory listing {md5}"
            if isinstance(got, Failure):
                return Failure(got.cause, f"{label}: {got.detail}", got.hint)
            size, got_md5, got_sha = got
            if got_md5 != md5.removesuffix(".dir") or (
                want and (got_sha != want.sha256 or size != (want.size or size))
            ):
                key = f"s3://{reader.settings.bucket}/{s3.object_key(reader.settings.prefix, md5)}"
                # Kept for inspection: the remote's bad bytes, not trusted and not cached.
                quarantine.move(tmp, f"remote/{md5}")
                return Failure(
                    "corrupt",
                    f"{label}: object {key} in the remote is corrupt "
                    "(its bytes do not match its md5 / the manifest's sha256)",
                )
            tmp.chmod(0o444)  # as DVC keeps its cache files
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
        if want is not None:  # verified as it came: copied, not hashed again
            _place_copy(final, seeds_dir / want.rel)
        return None

    jobs = [(w.md5, w) for w in need if w.md5] + [(m, None) for m in listings]
    with ThreadPoolExecutor(max_workers=max(1, min(_THREADS, len(jobs)))) as pool:
        outcomes = list(pool.map(lambda job: get(*job), jobs))
    for (_, job_want), job_failure in zip(jobs, outcomes, strict=True):
        if job_want is None:
            continue
        if job_failure is None:
            result.found[job_want.rel] = "remote"
        else:
            result.failures[job_want.rel] = job_failure
