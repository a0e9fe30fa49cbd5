"""The bucket is the backup: reading its catalog (format 1, issue 23) with no git and no DVC project.

Beside DVC's content-addressed objects (<prefix>/files/md5/ab/cdef...), every push writes:

    <prefix>/index.json                 the root: every published version, newest first, with
                                        the sha256 of each of its catalog files
    <prefix>/<version>/manifest.json    seeds/manifest.json, byte for byte
    <prefix>/<version>/checksums.sha256 seeds/checksums.sha256, byte for byte
    <prefix>/<version>/params.yaml      the params.yaml the snapshot was taken with
    <prefix>/<version>/files.json       each snapshot file -> the object holding it (md5, sha256, size)
    <prefix>/latest/manifest.json       the manifest of the index's latest

Readers trust index.json alone as the root: a version is listed or restorable only if the
index names it; each catalog file read is checked against the index's sha256 for it, the
files map against the manifest, and every data object against its size and sha256 as it is
downloaded. Whatever does not match is refused by name (version, file, object) with what to
do, before anything uses it. `Version.materialize` lays the verified files out as a minimal
project (params.yaml, seeds/manifest.json, seeds/checksums.sha256, seeds/<file>) that the
ordinary restore and reader take as they take a checkout.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from seedctl.config import Params, Storage, load_params
from seedctl.errors import IntegrityError, NotFound
from seedctl.hashing import hash_stream
from seedctl.layout import CHECKSUMS_FILE, MANIFEST_FILE, SCHEMA_FILE
from seedctl.parts import inconsistencies, snapshot_parts
from seedctl.store import s3
from seedctl.store.dvc import object_path
from seedctl.store.fetch import ADVICE
from seedctl.store.settings import ENV_FILE, RemoteSettings, load_settings, read_env_file

CATALOG_FORMAT = 1
INDEX = "index.json"
PARAMS_FILE = "params.yaml"
FILES_MAP = "files.json"
ENTRY_FILES = (MANIFEST_FILE, CHECKSUMS_FILE, PARAMS_FILE, FILES_MAP)
DEFAULT_PREFIX = "seedctl"
# The spec's advice when the catalog is missing (the write side's command).
NO_CATALOG = "run `seedctl catalog` in a clone that has the git history"
LIST_COMMAND = "seedctl versions --from-bucket"
_VERSION = re.compile(r"[0-9][A-Za-z0-9._-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_THREADS = 8


# --- where the bucket is -----------------------------------------------------------------------


def bucket_settings(root: Path, environ: Mapping[str, str] | None = None) -> RemoteSettings:
    """The remote's settings for reading the catalog. In a checkout (root holds params.yaml)
    its storage settings, as for every command; elsewhere MINIO_BUCKET (default seeds) and
    MINIO_PREFIX (default seedctl), from the environment or root/.env, like the other MINIO_*."""
    params_file = root / "params.yaml"
    if params_file.is_file():
        return load_settings(root, load_params(params_file), environ)
    environ = os.environ if environ is None else environ
    prefix = environ.get("MINIO_PREFIX") or read_env_file(root / ENV_FILE).get("MINIO_PREFIX") or DEFAULT_PREFIX
    return load_settings(root, Params(sources={}, storage=Storage(prefix=prefix.strip().strip("/"))), environ)


def has_git_history(root: Path) -> bool:
    """root is in a git repository (a .git here or above), whose tags name versions. Without
    one (a copy of a checkout without .git, a container), the bucket is the way to a version."""
    where = root.resolve()
    return any((d / ".git").exists() for d in (where, *where.parents))


def open_bucket(root: Path, environ: Mapping[str, str] | None = None) -> Bucket:
    """The bucket, checked to answer (RemoteError, exit 7, naming the endpoint or the keys)."""
    settings = bucket_settings(root, environ)
    s3.checked_client(settings)
    return Bucket(settings, s3.client(settings, timeout_s=60))


# --- the index -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One version as index.json lists it."""

    version: str
    tag: str | None
    created_at: str
    rows: int
    tables: dict[str, int]
    size_bytes: int
    files: int
    sha256: dict[str, str]  # catalog file name -> its sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag": self.tag,
            "created_at": self.created_at,
            "rows": self.rows,
            "tables": self.tables,
            "size_bytes": self.size_bytes,
            "files": self.files,
        }


@dataclass(frozen=True)
class Index:
    latest: str
    versions: list[Entry]  # newest first

    def find(self, name: str) -> Entry | None:
        """A version by its name, its tag (seeds/v2026.01.18) or the tag's date part, or `latest`."""
        wanted = self.latest if name == "latest" else name
        for entry in self.versions:
            if wanted == entry.version or (
                entry.tag and wanted in (entry.tag, entry.tag.removeprefix("seeds/"), entry.tag.removeprefix("seeds/v"))
            ):
                return entry
        return None


def parse_index(data: bytes, where: str) -> Index:
    """index.json checked against catalog format 1; IntegrityError naming what is wrong."""
    from seedctl.errors import RestoreRefused

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{where} is not a valid catalog index ({why})", _rewrite_advice(where, index=True))

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON: {type(exc).__name__}, {len(data)} bytes") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    made = doc.get("catalog_format")
    if isinstance(made, int) and made > CATALOG_FORMAT:
        raise RestoreRefused(
            f"{where} has catalog format {made}; this seedctl reads up to {CATALOG_FORMAT}", "upgrade seedctl"
        )
    if made != CATALOG_FORMAT:
        raise bad(f"catalog_format {made!r}")
    raw = doc.get("versions")
    if not isinstance(raw, list):
        raise bad("no versions list")
    entries = [_entry(item, n, bad) for n, item in enumerate(raw)]
    names = [e.version for e in entries]
    if len(set(names)) != len(names):
        raise bad("a version is listed twice")
    latest = doc.get("latest")
    if entries and latest not in names:
        raise bad(f"latest {latest!r} is not one of its versions")
    return Index(str(latest or ""), entries)


def _entry(item: Any, n: int, bad: Any) -> Entry:
    if not isinstance(item, dict):
        raise bad(f"versions[{n}] is not an object")
    version = item.get("version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise bad(f"versions[{n}] has no valid version name")
    sha = item.get("sha256")
    if not isinstance(sha, dict) or any(not _SHA256.fullmatch(str(sha.get(f, ""))) for f in ENTRY_FILES):
        raise bad(f"version {version} lacks the sha256 of its catalog files")
    tables = item.get("tables") or {}
    numbers = [item.get("rows"), item.get("size_bytes"), item.get("files"), *tables.values()]
    if not isinstance(tables, dict) or any(not isinstance(v, int) or isinstance(v, bool) for v in numbers):
        raise bad(f"version {version}: rows, size_bytes, files and tables must be integers")
    tag = item.get("tag")
    return Entry(
        version=version,
        tag=tag if isinstance(tag, str) else None,
        created_at=str(item.get("created_at") or ""),
        rows=int(item["rows"]),
        tables={str(k): int(v) for k, v in tables.items()},
        size_bytes=int(item["size_bytes"]),
        files=int(item["files"]),
        sha256={f: str(sha[f]) for f in ENTRY_FILES},
    )


# --- one version's catalog files -------------------------------------------------------------------


@dataclass(frozen=True)
class FileRef:
    """Where one snapshot file's bytes are: the object (key under the prefix) and what they must be."""

    rel: str
    object: str
    md5: str
    sha256: str
    size: int


def parse_files_map(data: bytes, version: str, manifest: dict[str, Any], where: str) -> dict[str, FileRef]:
    """files.json, checked against the manifest: every file a restore reads is in it, with the
    manifest's sha256 (and size), at the object DVC keeps those bytes under."""

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"version {version}: {where} {why}", _rewrite_advice(where))

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("is not JSON") from None
    if not isinstance(doc, dict) or doc.get("catalog_format") != CATALOG_FORMAT or doc.get("version") != version:
        raise bad(f"is not the catalog format {CATALOG_FORMAT} files map of this version")
    files = doc.get("files")
    if not isinstance(files, dict):
        raise bad("has no files")
    refs: dict[str, FileRef] = {}
    for rel, ref in files.items():
        if not isinstance(ref, dict):
            raise bad(f"entry {rel!r} is not an object")
        if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts or "\\" in rel:
            raise bad(f"entry {rel!r} is not a path inside seeds/")
        md5, sha, size, key = ref.get("md5"), ref.get("sha256"), ref.get("size"), ref.get("object")
        if not (
            isinstance(md5, str)
            and _MD5.fullmatch(md5)
            and isinstance(sha, str)
            and _SHA256.fullmatch(sha)
            and isinstance(size, int)
            and size >= 0
            and key == object_path(md5)
        ):
            raise bad(f"entry {rel!r} is malformed (object, md5, sha256, size)")
        refs[str(rel)] = FileRef(str(rel), key, md5, sha, size)
    expected = [(p["file"], p["sha256"], p.get("size_bytes")) for p in snapshot_parts(manifest)]
    expected.append((SCHEMA_FILE, manifest.get("schema_sha256"), None))
    for rel, sha, size in expected:
        got = refs.get(rel)
        if got is None:
            raise bad(f"does not name {rel}")
        if got.sha256 != sha or (size is not None and got.size != size):
            raise bad(f"does not agree with the manifest about {rel}")
    return refs


def _rewrite_advice(where: str, *, index: bool = False) -> str:
    """Advice for a damaged catalog file at where (s3://bucket/key). `seedctl catalog` (and the
    next push of the version) puts a damaged entry file back; index.json, the root, it
    rebuilds only once the damaged one is gone."""
    if not index:
        return f"restore another version (`{LIST_COMMAND}` lists them), or write its catalog again: {NO_CATALOG}"
    return f"delete it (e.g. `mc rm <alias>/{where.removeprefix('s3://')}`), then {NO_CATALOG}"


@dataclass
class Version:
    """A version's verified catalog files: its manifest, params.yaml, checksums and files map."""

    entry: Entry
    manifest: dict[str, Any]
    files: dict[str, FileRef]
    raw: dict[str, bytes]  # each catalog file's bytes, as in the bucket

    @property
    def name(self) -> str:
        return self.entry.version

    def write_project(self, root: Path) -> Path:
        """root as a minimal project holding this version's description (no data yet): params.yaml,
        seeds/manifest.json and seeds/checksums.sha256, byte for byte."""
        (root / "seeds").mkdir(parents=True, exist_ok=True)
        (root / PARAMS_FILE).write_bytes(self.raw[PARAMS_FILE])
        (root / "seeds" / MANIFEST_FILE).write_bytes(self.raw[MANIFEST_FILE])
        (root / "seeds" / CHECKSUMS_FILE).write_bytes(self.raw[CHECKSUMS_FILE])
        return root

    def needed(self, rels: Iterable[str]) -> list[str]:
        """The files to download for data files rels: those, and schema.json."""
        return list(dict.fromkeys([*rels, SCHEMA_FILE]))


# --- the bucket ------------------------------------------------------------------------------------------


class Bucket:
    """A catalog reader over one S3 client: the index, a version's files, data objects (all verified)."""

    def __init__(self, settings: RemoteSettings, client: Any) -> None:
        self.settings, self.client = settings, client

    @property
    def url(self) -> str:
        return self.settings.url

    def key(self, rel: str) -> str:
        return f"{self.settings.prefix}/{rel}" if self.settings.prefix else rel

    def where(self, rel: str) -> str:
        return f"s3://{self.settings.bucket}/{self.key(rel)}"

    def get(self, rel: str) -> bytes | None:
        """An object's bytes under the prefix; None when the bucket does not have it."""
        from botocore.exceptions import ClientError

        with s3.errors(self.settings, f"GET {self.where(rel)}"):
            try:
                return bytes(self.client.get_object(Bucket=self.settings.bucket, Key=self.key(rel))["Body"].read())
            except ClientError as exc:
                if s3.missing(exc):
                    return None
                raise

    def index(self) -> Index:
        data = self.get(INDEX)
        if data is None:
            raise NotFound(f"bucket {self.url} has no catalog ({self.where(INDEX)} is missing)", NO_CATALOG)
        return parse_index(data, self.where(INDEX))

    def version(self, name: str, index: Index | None = None) -> Version:
        """A version's catalog files, each checked against the index, the files map against the manifest."""
        index = index or self.index()
        entry = index.find(name)
        if entry is None:
            known = "it lists none" if not index.versions else f"latest is {index.latest}"
            raise NotFound(
                f"the catalog of {self.url} has no version {name!r} ({known})", f"list them with `{LIST_COMMAND}`"
            )
        raw = {}
        for file in ENTRY_FILES:
            rel = f"{entry.version}/{file}"
            data = self.get(rel)
            if data is None:
                raise IntegrityError(
                    f"version {entry.version}: {self.where(rel)} is missing from the bucket",
                    f"restore another version (`{LIST_COMMAND}` lists them), or {NO_CATALOG}",
                )
            if _sha256(data) != entry.sha256[file]:
                raise IntegrityError(
                    f"version {entry.version}: {self.where(rel)} does not match the sha256 index.json records for it "
                    f"(truncated or tampered: {len(data):,} bytes)",
                    _rewrite_advice(self.where(rel)),
                )
            raw[file] = data
        manifest = _manifest(raw[MANIFEST_FILE], entry.version, self.where(f"{entry.version}/{MANIFEST_FILE}"))
        files = parse_files_map(raw[FILES_MAP], entry.version, manifest, self.where(f"{entry.version}/{FILES_MAP}"))
        return Version(entry, manifest, files, raw)

    def download(self, version: Version, rels: Iterable[str], seeds_dir: Path) -> None:
        """Each file of rels into seeds_dir, verified (size, md5, sha256) as it comes; the first
        one missing or not matching is an IntegrityError naming the version, file and object."""
        refs = [version.files[rel] for rel in rels]
        stop = threading.Event()

        def one(ref: FileRef) -> None:
            if not stop.is_set():
                self._download(version.name, ref, seeds_dir)

        pool = ThreadPoolExecutor(max_workers=max(1, min(_THREADS, len(refs))))
        try:
            for _ in pool.map(one, refs):
                pass
        except BaseException as exc:
            stop.set()
            # The first failure waits for the downloads under way (bounded by the read timeout);
            # Ctrl-C or SIGTERM does not: the run ends now, the directory is removed by the caller.
            pool.shutdown(wait=not isinstance(exc, KeyboardInterrupt), cancel_futures=True)
            raise
        pool.shutdown()

    def read(self, version: Version, rel: str) -> bytes:
        """One file's bytes, verified as download() verifies them (for reading without a project)."""
        import io

        sink = io.BytesIO()
        self._get(version.name, version.files[rel], sink)
        return sink.getvalue()

    def _download(self, version: str, ref: FileRef, seeds_dir: Path) -> None:
        target = seeds_dir / ref.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.download")
        try:
            with tmp.open("wb") as fh:
                self._get(version, ref, fh)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)

    def _get(self, version: str, ref: FileRef, sink: Any) -> None:
        """The object of ref into sink; IntegrityError unless its size, md5 and sha256 are ref's."""
        from botocore.exceptions import ClientError

        where = self.where(ref.object)
        with s3.errors(self.settings, f"GET {where}"):
            try:
                body = self.client.get_object(Bucket=self.settings.bucket, Key=self.key(ref.object))["Body"]
            except ClientError as exc:
                if not s3.missing(exc):
                    raise
                raise IntegrityError(
                    f"version {version}: {ref.rel} is gone: object {where} is missing from the bucket",
                    _repair("missing"),
                ) from None
            size, md5, sha = hash_stream(body, sink)
        if (size, md5, sha) != (ref.size, ref.md5, ref.sha256):
            raise IntegrityError(
                f"version {version}: object {where} holding {ref.rel} is damaged "
                f"(its bytes do not match the size and sha256 files.json records: {size:,} bytes read, "
                f"{ref.size:,} expected)",
                _repair("corrupt"),
            )


def _repair(cause: str) -> str:
    return f"restore another version (`{LIST_COMMAND}` lists them), or {ADVICE[cause]}"


def _manifest(data: bytes, version: str, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(f"version {version}: {where} is not JSON", _rewrite_advice(where)) from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("version") != version
        or not isinstance(manifest.get("tables"), dict)
    ):
        raise IntegrityError(
            f"version {version}: {where} is not the manifest of version {version}", _rewrite_advice(where)
        )
    problems = inconsistencies(manifest)
    if problems:
        raise IntegrityError(f"version {version}: {where}: {problems[0]}", _rewrite_advice(where))
    return manifest


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
