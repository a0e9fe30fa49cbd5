"""The bucket catalog (format 1): what makes the remote a self-describing backup.

Beside DVC's content-addressed objects (<prefix>/files/md5/..), every push writes

    <prefix>/<version>/params.yaml, checksums.sha256, files.json, manifest.json
    <prefix>/index.json            every listed version, newest first, with its entry files' sha256
    <prefix>/latest/manifest.json  the manifest of index.json's "latest"

files.json maps each file a restore reads (seeds/data/.., schema.json) to the DVC object that
holds it: no data byte is ever copied. The shared specification is CATALOG-SPEC.md (docs/ARCHITECTURE.md,
"Bucket catalog", says the same in short).

Write order, so that a push killed at any point leaves the previous catalog usable: (1) every
object files.json names is verified in the bucket (size, and the ETag when it is a plain md5);
(2) the entry files, manifest.json last, each put only where absent (an entry's files are
never overwritten: the bytes already in the bucket win); (3) index.json by compare-and-swap
(If-Match its ETag, If-None-Match '*' when absent), re-read and merged on a conflict; (4)
latest/manifest.json last. A version not in index.json does not exist for a reader.

Pure functions (keys, documents, ordering, merging) come first; the remote ones after.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.errors import IntegrityError, RemoteError
from seedctl.layout import CHECKSUMS_FILE, DATA_DIR, MANIFEST_FILE, SCHEMA_FILE
from seedctl.parts import snapshot_parts
from seedctl.store import s3
from seedctl.store.dvc import object_path

if TYPE_CHECKING:
    from seedctl.store.settings import RemoteSettings

FORMAT = 1
PARAMS_FILE = "params.yaml"
FILES_FILE = "files.json"
# An entry's files in the order they are written: manifest.json last.
ENTRY_FILES = (PARAMS_FILE, CHECKSUMS_FILE, FILES_FILE, MANIFEST_FILE)
INDEX = "index.json"
LATEST = "latest/manifest.json"
# Conflicting writers of index.json: re-read and merged this many times, then a clear error.
CAS_ATTEMPTS = 8


# --- keys ------------------------------------------------------------------------------------


def key(prefix: str, rel: str) -> str:
    """The bucket key of rel (a key relative to the DVC remote's prefix)."""
    return f"{prefix}/{rel}" if prefix else rel


def entry_key(prefix: str, version: str, name: str) -> str:
    """<prefix>/<version>/<name>: refuses a version that could reach outside its own folder."""
    if not version[:1].isdigit() or "/" in version or ".." in version:
        raise IntegrityError(f"{version!r} is not a snapshot version name", "check the manifest's version")
    return key(prefix, f"{version}/{name}")


# --- documents (pure) ------------------------------------------------------------------------


def dumps(document: Mapping[str, Any]) -> bytes:
    """files.json and index.json as written: sorted keys, one value per line, a final newline."""
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_document(
    manifest: Mapping[str, Any], *, schema_size: int, md5_of: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """files.json: every file a restore reads -> the object holding it, its md5, sha256, size.

    md5s come from the manifest; md5_of (path under seeds/ -> md5, from the data directory's
    DVC listing) stands in for a manifest that has none (older snapshots)."""
    known = dict(md5_of or {})
    files: dict[str, dict[str, Any]] = {}
    for part in snapshot_parts(dict(manifest)):
        rel = str(part["file"])
        md5 = str(part.get("md5") or known.get(rel, ""))
        files[rel] = _file(rel, md5, str(part["sha256"]), int(part["size_bytes"]))
    schema_md5 = str(manifest.get("schema_md5") or known.get(SCHEMA_FILE, ""))
    files[SCHEMA_FILE] = _file(SCHEMA_FILE, schema_md5, str(manifest["schema_sha256"]), schema_size)
    return {"catalog_format": FORMAT, "version": str(manifest["version"]), "files": files}


def _file(rel: str, md5: str, sha: str, size: int) -> dict[str, Any]:
    if not s3.MD5.fullmatch(md5) or md5.endswith(".dir"):
        raise IntegrityError(f"no DVC md5 for seeds/{rel}", "run `seedctl pull` (the DVC listing is needed)")
    return {"object": object_path(md5), "md5": md5, "sha256": sha, "size": size}


def index_entry(
    manifest: Mapping[str, Any], files_doc: Mapping[str, Any], sha256s: Mapping[str, str], tag: str | None
) -> dict[str, Any]:
    """One version's line in index.json."""
    tables = {name: int(t["rows"]) for name, t in manifest["tables"].items()}
    files = files_doc["files"]
    return {
        "version": str(manifest["version"]),
        "tag": tag,
        "created_at": str(manifest["created_at"]),
        "rows": sum(tables.values()),
        "tables": tables,
        "size_bytes": sum(int(f["size"]) for f in files.values()),
        "files": len(files),
        "sha256": {name: sha256s[name] for name in ENTRY_FILES},
    }


def newest_first(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """By created_at, then version, newest first (the index's order)."""
    return sorted((dict(e) for e in entries), key=lambda e: (str(e["created_at"]), str(e["version"])), reverse=True)


def merged(
    index: Mapping[str, Any] | None, add: Iterable[Mapping[str, Any]] = (), remove: Iterable[str] = ()
) -> dict[str, Any]:
    """index.json with `add` (an entry replaces the one of its version; a tag once known is
    kept when the new entry has none) and without the versions in `remove`. "latest" is the
    newest: the same answer whichever writer merges last."""
    by_version = {str(e["version"]): dict(e) for e in (index or {}).get("versions", [])}
    for entry in add:
        old = by_version.get(str(entry["version"]))
        new = dict(entry)
        if old is not None and new.get("tag") is None:
            new["tag"] = old.get("tag")
        by_version[str(new["version"])] = new
    for version in remove:
        by_version.pop(version, None)
    versions = newest_first(by_version.values())
    return {"catalog_format": FORMAT, "latest": versions[0]["version"] if versions else None, "versions": versions}


def with_tag(index: Mapping[str, Any] | None, version: str, tag: str) -> dict[str, Any] | None:
    """index.json with `tag` recorded for version; None when the index does not list it."""
    entries = [dict(e) for e in (index or {}).get("versions", [])]
    found = [e for e in entries if e["version"] == version]
    if not found:
        return None
    found[0]["tag"] = tag
    return merged(None, entries)


def listed(index: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """version -> its index entry."""
    return {str(e["version"]): dict(e) for e in (index or {}).get("versions", [])}


@dataclass
class Entry:
    """One version's catalog entry, built from its records (pure: no request made)."""

    manifest: dict[str, Any]
    blobs: dict[str, bytes]  # entry file name -> bytes
    files_doc: dict[str, Any]
    tag: str | None = None

    @property
    def version(self) -> str:
        return str(self.manifest["version"])


def build_entry(
    manifest_bytes: bytes,
    checksums_bytes: bytes,
    params_bytes: bytes,
    *,
    schema_size: int,
    md5_of: Mapping[str, str] | None = None,
    tag: str | None = None,
) -> Entry:
    manifest = json.loads(manifest_bytes)
    files_doc = files_document(manifest, schema_size=schema_size, md5_of=md5_of)
    blobs = {
        PARAMS_FILE: params_bytes,
        CHECKSUMS_FILE: checksums_bytes,
        FILES_FILE: dumps(files_doc),
        MANIFEST_FILE: manifest_bytes,
    }
    return Entry(manifest, blobs, files_doc, tag)


def lock_facts(lock: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(schema.json's size, the seeds/data listing's md5) as dvc.lock records them."""
    size, listing = None, None
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("path") == f"seeds/{SCHEMA_FILE}" and out.get("size") is not None:
                size = int(out["size"])
            if out.get("path") == f"seeds/{DATA_DIR}" and str(out.get("md5", "")).endswith(".dir"):
                listing = str(out["md5"])
    return size, listing


# --- the remote ------------------------------------------------------------------------------


def unverified(
    client: Any, settings: RemoteSettings, files_doc: Mapping[str, Any], verified: Collection[str] = ()
) -> dict[str, str]:
    """seeds/ path -> why, for each object files.json names that the bucket lacks or holds
    with another size or md5 (ETag); {} when all are there. RemoteError when the bucket gives
    no clear answer. verified: bucket keys the caller has just checked itself (push, after its
    own check or upload): not asked about again."""
    from seedctl.store.objects import RemoteObject, absent

    wanted = {
        key(settings.prefix, f["object"]): (rel, RemoteObject(f"seeds/{rel}", int(f["size"]), Path()))
        for rel, f in files_doc["files"].items()
    }
    skip = set(verified)
    bad = absent(client, settings, {k: obj for k, (_, obj) in wanted.items() if k not in skip})
    if bad is None:
        raise RemoteError(
            f"could not verify the objects of snapshot {files_doc['version']} in {settings.url}",
            "check the remote, then run `seedctl push` again",
        )
    return {wanted[k][0]: why for k, why in bad.items()}


def get(client: Any, settings: RemoteSettings, bucket_key: str) -> tuple[bytes, str] | None:
    """(bytes, ETag) of an object; None when the bucket lacks it."""
    from botocore.exceptions import ClientError

    with s3.errors(settings, f"reading s3://{settings.bucket}/{bucket_key}"):
        try:
            found = client.get_object(Bucket=settings.bucket, Key=bucket_key)
        except ClientError as exc:
            if s3.missing(exc):
                return None
            raise
        return bytes(found["Body"].read()), str(found.get("ETag", ""))


def _conflict(exc: BaseException) -> bool:
    """put_object's precondition failed: another writer got there first (412), or (409) is
    writing the same key right now, or (404) deleted the object If-Match named."""
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(response.get("Error", {}).get("Code", ""))
    return status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey")


def put(client: Any, settings: RemoteSettings, bucket_key: str, body: bytes, *, condition: dict[str, str]) -> bool:
    """Put body under bucket_key if the condition holds (IfNoneMatch='*' or IfMatch=etag):
    False when another writer got there first. A server that does not implement conditional
    writes (HTTP 501) gets a plain PUT: no worse than before the catalog existed."""
    import base64

    from botocore.exceptions import ClientError

    content_md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    with s3.errors(settings, f"writing s3://{settings.bucket}/{bucket_key}"):
        for attempt in (condition, {}):
            try:
                client.put_object(
                    Bucket=settings.bucket,
                    Key=bucket_key,
                    Body=body,
                    ContentMD5=content_md5,
                    ContentType="application/json" if bucket_key.endswith(".json") else "text/plain",
                    **attempt,
                    **s3.encryption(settings),
                )
                return True
            except ClientError as exc:
                if attempt and _not_implemented(exc):
                    continue
                if _conflict(exc):
                    return False
                raise
    return True


def _not_implemented(exc: BaseException) -> bool:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 501 or str(response.get("Error", {}).get("Code", "")) == "NotImplemented"


def write_entry(
    client: Any, settings: RemoteSettings, entry: Entry, line: Mapping[str, Any] | None = None
) -> dict[str, bytes]:
    """The entry's files, manifest.json last: the bytes in the bucket afterwards. A file
    already there is kept when it is ours byte for byte, or the copy index.json's line for
    the version (`line`) vouches for (another clone's push of the same data: the version's
    name says so); anything else there (left by a killed push, damaged) is replaced by ours."""
    written: dict[str, bytes] = {}
    for name in ENTRY_FILES:
        bucket_key = entry_key(settings.prefix, entry.version, name)
        body = entry.blobs[name]
        if not put(client, settings, bucket_key, body, condition={"IfNoneMatch": "*"}):
            found = get(client, settings, bucket_key)
            vouched = line is not None and found is not None and sha256(found[0]) == line["sha256"].get(name)
            if found is not None and (found[0] == body or vouched):
                body = found[0]
            else:
                put(client, settings, bucket_key, body, condition={})
        written[name] = body
    return written


def read_index(client: Any, settings: RemoteSettings) -> tuple[dict[str, Any] | None, str | None]:
    """index.json and its ETag; (None, None) when the bucket has none."""
    found = get(client, settings, key(settings.prefix, INDEX))
    if found is None:
        return None, None
    where = f"s3://{settings.bucket}/{key(settings.prefix, INDEX)}"
    try:
        document = json.loads(found[0])
        if not isinstance(document, dict) or not isinstance(document.get("versions"), list):
            raise ValueError
        for line in document["versions"]:
            if not isinstance(line, dict) or not isinstance(line.get("sha256"), dict):
                raise ValueError
            if not all(isinstance(line.get(k), str) for k in ("version", "created_at")):
                raise ValueError
    except ValueError:
        raise IntegrityError(
            f"{where} is damaged (not a catalog index)",
            "delete it, then run `seedctl catalog` in a clone that has the git history",
        ) from None
    if document.get("catalog_format") != FORMAT:
        raise IntegrityError(
            f"{where} has catalog format {document.get('catalog_format')!r}; this seedctl writes {FORMAT}",
            "upgrade seedctl",
        )
    return document, found[1]


def update_index(
    client: Any, settings: RemoteSettings, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
) -> tuple[dict[str, Any] | None, int]:
    """Compare-and-swap of index.json: change(current) -> the new index (None: leave it).
    On a conflict the index is read again and change applied again. (index, conflicts)."""
    for attempt in range(CAS_ATTEMPTS):
        current, etag = read_index(client, settings)
        new = change(current)
        if new is None or new == current:
            return current, attempt
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        if put(client, settings, key(settings.prefix, INDEX), dumps(new), condition=condition):
            return new, attempt
    raise RemoteError(
        f"s3://{settings.bucket}/{key(settings.prefix, INDEX)} was changed by other writers "
        f"{CAS_ATTEMPTS} times while this one tried to update it; the entry is written but not listed",
        "run `seedctl push` again",
    )


def write_latest(client: Any, settings: RemoteSettings, index: dict[str, Any] | None) -> str | None:
    """latest/manifest.json = the manifest of the index's latest, byte for byte; written
    again while the index's latest changes under it (a concurrent push). The version."""
    for _ in range(CAS_ATTEMPTS):
        version = (index or {}).get("latest")
        if not version:
            return None
        entry_manifest = entry_key(settings.prefix, version, MANIFEST_FILE)
        found = get(client, settings, entry_manifest)
        if found is None or sha256(found[0]) != listed(index)[version]["sha256"][MANIFEST_FILE]:
            raise IntegrityError(
                f"s3://{settings.bucket}/{entry_manifest} is missing or does not match index.json",
                "run `seedctl catalog` in a clone that has the git history",
            )
        latest = key(settings.prefix, LATEST)
        current = get(client, settings, latest)
        if current is None or current[0] != found[0]:
            put(client, settings, latest, found[0], condition={})
        again, _ = read_index(client, settings)
        if (again or {}).get("latest") == version:
            return str(version)
        index = again
    raise RemoteError(f"latest/manifest.json of {settings.url} keeps changing", "run `seedctl push` again")


@dataclass
class Published:
    """What publish did: the versions it listed, the index after it, conflicts met on the way."""

    url: str
    written: list[str]
    index: dict[str, Any] | None
    conflicts: int = 0
    latest: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # version -> why it was not listed

    def __str__(self) -> str:
        count = len((self.index or {}).get("versions", []))
        line = (
            f"catalog: {', '.join(self.written) or 'nothing new'} listed in {self.url}/{INDEX} "
            f"({count} version{'s' if count != 1 else ''}, latest {self.latest})"
        )
        if self.conflicts:
            line += f"; another push updated the index meanwhile ({self.conflicts}x): merged, both listed"
        return line


def publish(client: Any, settings: RemoteSettings, entries: list[Entry]) -> Published:
    """Write the entries' catalog, in the safe order. Every entry's objects must have been
    verified (unverified) by the caller."""
    current = listed(read_index(client, settings)[0])
    blobs = {entry.version: write_entry(client, settings, entry, current.get(entry.version)) for entry in entries}
    lines = [
        index_entry(e.manifest, e.files_doc, {n: sha256(b) for n, b in blobs[e.version].items()}, e.tag)
        for e in entries
    ]
    index, conflicts = update_index(client, settings, lambda current: merged(current, lines))
    latest = write_latest(client, settings, index)
    return Published(settings.url, [e.version for e in entries], index, conflicts, latest)


def record_tag(client: Any, settings: RemoteSettings, version: str, tag: str) -> None:
    """The version's git tag, once made, in its index line (a tag is made after the push)."""
    update_index(client, settings, lambda current: with_tag(current, version, tag))


# --- a checkout's snapshot, and the versions of its git history ------------------------------


def checkout_entry(project_root: Path, params_file: Path, tag: str | None) -> Entry:
    """The checked-out snapshot's entry (seeds/, dvc.lock, the params file)."""
    import yaml

    seeds = project_root / "seeds"
    lock = yaml.safe_load((project_root / "dvc.lock").read_text(encoding="utf-8")) or {}
    size, _ = lock_facts(lock)
    return build_entry(
        (seeds / MANIFEST_FILE).read_bytes(),
        (seeds / CHECKSUMS_FILE).read_bytes(),
        params_file.read_bytes(),
        schema_size=(seeds / SCHEMA_FILE).stat().st_size if size is None else size,
        tag=tag,
    )


def publish_checkout(
    project_root: Path,
    params_file: Path,
    client: Any,
    settings: RemoteSettings,
    tag: str | None,
    verified: Collection[str] = (),
) -> Published:
    """The push's last step: the checkout's entry, once every object it names is verified
    (those in `verified`, bucket keys push has just checked, are not checked twice)."""
    entry = checkout_entry(project_root, params_file, tag)
    bad = unverified(client, settings, entry.files_doc, verified)
    if bad:
        rel, why = next(iter(bad.items()))
        raise RemoteError(
            f"not cataloguing snapshot {entry.version}: {len(bad)} of its objects are not right in "
            f"{settings.url} (e.g. seeds/{rel}: {why})",
            "run `seedctl push` again",
        )
    try:
        return publish(client, settings, [entry])
    except RemoteError as exc:
        if isinstance(exc, (s3.RemoteUnreachable, s3.CredentialsRefused)):
            raise
        raise type(exc)(
            f"snapshot {entry.version} is pushed but not listed in the bucket's catalog: {exc.message}",
            "run `seedctl push` again (the data is in the bucket; only the catalog is behind)",
        ) from None


def _show(project_root: Path, rev: str, path: str) -> bytes | None:
    """A file's committed bytes at rev (`git show rev:path`), None where it has none."""
    import subprocess

    shown = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=project_root, capture_output=True, check=False, stdin=subprocess.DEVNULL
    )
    return shown.stdout if shown.returncode == 0 else None


def _listing(project_root: Path, client: Any, settings: RemoteSettings, md5: str) -> dict[str, str]:
    """seeds/ path -> md5 of the files a seeds/data DVC listing names (local cache, else bucket)."""
    from seedctl.store.dvc import object_cache

    try:
        raw: bytes | None = object_cache(project_root)(md5).read_bytes()
    except OSError:
        found = get(client, settings, s3.object_key(settings.prefix, md5))
        raw = found[0] if found else None
    try:
        return {f"{DATA_DIR}/{e['relpath']}": str(e["md5"]) for e in json.loads(raw or b"[]")}
    except (ValueError, TypeError, KeyError):
        return {}


def history_entry(project_root: Path, client: Any, settings: RemoteSettings, tag: str, commit: str) -> Entry:
    """A version tag's entry, from git alone: its manifest, checksums, params.yaml, dvc.lock."""
    import yaml

    records = {p: _show(project_root, commit, p) for p in ("seeds/manifest.json", "seeds/checksums.sha256")}
    missing = [p for p, data in records.items() if data is None]
    if missing:
        raise IntegrityError(f"{tag} has no {missing[0]} in git", "it cannot be catalogued")
    lock = yaml.safe_load(_show(project_root, commit, "dvc.lock") or b"") or {}
    size, listing = lock_facts(lock)
    manifest = json.loads(records["seeds/manifest.json"] or b"")
    md5_of = {}
    if listing and any("md5" not in p for p in snapshot_parts(manifest)):
        md5_of = _listing(project_root, client, settings, listing)
    if size is None and s3.MD5.fullmatch(str(manifest.get("schema_md5", ""))):
        found = s3.head(client, settings, s3.object_key(settings.prefix, manifest["schema_md5"]))
        size = found[0] if found else 0
    return build_entry(
        records["seeds/manifest.json"] or b"",
        records["seeds/checksums.sha256"] or b"",
        _show(project_root, commit, "params.yaml") or b"",
        schema_size=size or 0,
        md5_of=md5_of,
        tag=tag,
    )


def catalog_history(project_root: Path, client: Any, settings: RemoteSettings) -> Published:
    """`seedctl catalog`: the entry of every version tag whose objects are all in the bucket
    (verified), then index.json and latest/manifest.json. Idempotent. A version that cannot
    be catalogued is left out, with why, in Published.skipped (by tag)."""
    from seedctl.store.versions import list_versions

    entries: dict[str, Entry] = {}
    skipped: dict[str, str] = {}
    versions = list_versions(project_root)
    for version in versions:  # newest first: a version under two tags gets the newest
        try:
            entry = history_entry(project_root, client, settings, version.tag, version.commit)
        except (IntegrityError, ValueError, KeyError, TypeError) as exc:
            why = exc.line() if isinstance(exc, IntegrityError) else f"its manifest is not readable ({exc})"
            skipped[version.tag] = why
            continue
        if entry.version in entries:
            continue
        bad = unverified(client, settings, entry.files_doc)
        if bad:
            rel, why = next(iter(bad.items()))
            skipped[version.tag] = (
                f"{entry.version}: {len(bad)} of its {len(entry.files_doc['files'])} objects are not right in "
                f"{settings.url} (e.g. seeds/{rel}: {why})"
            )
            continue
        entries[entry.version] = entry
    if versions and not entries:
        raise RemoteError(
            f"none of the {len(versions)} version tags has all its objects in {settings.url}",
            "check MINIO_BUCKET, MINIO_ENDPOINT and params.yaml storage.prefix",
        )
    published = publish(client, settings, list(entries.values())) if entries else Published(settings.url, [], None)
    published.skipped = skipped
    return published
