"""Retention: keep the versions the retention policy keeps (store/retention.py: the newest N,
and the newest of each recent hour, day, week and month) plus pinned ones, remove the other
version tags and the remote objects that nothing we keep still needs.

Why not `dvc gc --cloud`: its `-n` counts commits, not snapshots (treeverse/dvc#10234), and it
deletes every object of the remote that the listed revisions do not use, which on a
remote shared with other projects deletes *their* data. Here it is the other way round:

    delete = objects of the pruned versions
             - objects of the kept versions, the pinned versions, the work tree (its
               seeds/manifest.json and dvc.lock) and the tip of every other git ref
               (branches, remote-tracking branches, tags that are not seeds/v*)

Only keys computed from our own manifests and dvc.lock files, under our own prefix, are
ever deleted; the bucket is never listed, so other projects' objects under other prefixes (and
anything under ours that our manifests do not name) are never touched. A prefix shared with
another DVC project is not safe with any retention: its commits may name the same content, and
it cannot be seen from here -- give each project its own prefix. Whatever we cannot read for a
protected revision stops the prune (fail closed); whatever we cannot read for a pruned version
is simply not deleted (fail safe). Nothing changes without --yes.

Keys are DVC's content addresses (s3.object_key); directory listings (`<md5>.dir`) are
read from the DVC cache, else from the remote. The `seedctl prune` command is cli/prune.py.

The bucket catalog (catalog.py) stays consistent: index.json stops listing the pruned
versions (compare-and-swap) before their entries (<prefix>/<version>/...) and objects go;
a version only index.json lists (no tag here) is kept and the objects its files.json names
protected; the index's latest is never pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.errors import ConfigError, IntegrityError, RemoteError
from seedctl.parts import snapshot_parts
from seedctl.store import s3
from seedctl.store.dvc import object_cache
from seedctl.store.retention import describe, keep_reasons
from seedctl.store.versions import (
    TAG_PREFIX,
    Version,
    commit_of,
    dvc_lock_at,
    git,
    holds_snapshot,
    list_versions,
    newest_first,
    other_snapshot_tags,
    snapshot_objects,
)

if TYPE_CHECKING:
    from seedctl.config import Params, Retention
    from seedctl.store.settings import RemoteSettings

DELETE_BATCH = 1000  # S3 DeleteObjects limit
JOURNAL = Path(".dvc") / "tmp" / "seedctl-prune.json"


# --- which versions go --------------------------------------------------------------------


def resolve_pins(versions: Sequence[Version], pins: Iterable[tuple[str, str]]) -> dict[str, str]:
    """tag -> where it was pinned, for (name, origin) pairs; an unknown name is a ConfigError.

    A typo in a pin must not silently unprotect the version the operator meant.
    """
    resolved: dict[str, str] = {}
    for name, origin in pins:
        match = [
            v.tag for v in versions if name in (v.tag, v.tag.removeprefix(TAG_PREFIX), v.tag.removeprefix("seeds/"))
        ]
        if not match:
            raise ConfigError(
                f"pinned version {name!r} ({origin}) is not a snapshot version tag",
                "use a tag such as seeds/v2026.01.04 (see `git tag --list 'seeds/v*'`)",
            )
        resolved.setdefault(match[0], origin)
    return resolved


def choose(
    versions: Sequence[Version], policy: Retention, pinned: Iterable[str]
) -> tuple[list[Version], list[Version], list[Version], dict[str, list[str]]]:
    """(kept, pinned, pruned, reasons): what the policy keeps (retention.py, reasons per tag),
    the pinned among the rest, everything else; each list newest first."""
    if not any(policy.tiers().values()):
        raise ConfigError("the retention policy keeps nothing", "retention never removes every snapshot version")
    reasons = keep_reasons(versions, policy)
    pins = set(pinned)
    ordered = newest_first(versions)
    kept = [v for v in ordered if v.tag in reasons]
    older = [v for v in ordered if v.tag not in reasons]
    return kept, [v for v in older if v.tag in pins], [v for v in older if v.tag not in pins], reasons


# --- which objects a revision needs ----------------------------------------------------------


class Listings:
    """DVC directory listings (`<md5>.dir`), from the local cache, else from the remote."""

    def __init__(self, root: Path, settings: RemoteSettings, client: Any) -> None:
        self.settings, self.client = settings, client
        self._cache = object_cache(root)
        self._seen: dict[str, list[str] | None] = {}

    def files(self, md5: str) -> list[str] | None:
        """md5s of the files a listing names; None when neither cache nor remote has it."""
        if md5 not in self._seen:
            self._seen[md5] = self._read(md5)
        return self._seen[md5]

    def _read(self, md5: str) -> list[str] | None:
        raw: bytes | None
        try:
            raw = self._cache(md5).read_bytes()
        except OSError:
            raw = get_object(self.client, self.settings, s3.object_key(self.settings.prefix, md5))
        if raw is None:
            return None
        try:
            entries = json.loads(raw)
            return [str(e["md5"]) for e in entries]
        except (ValueError, TypeError, KeyError):
            return None


def needed_objects(
    manifest: dict[str, Any], lock: dict[str, Any], listings: Listings, *, label: str, protected: bool
) -> dict[str, str]:
    """md5 -> description of every remote object a snapshot (manifest + dvc.lock) needs.

    The manifest's own md5s, plus each directory listing and the files it names. For a
    protected revision an unreadable listing is only acceptable when the manifest names
    every data file's md5; otherwise we cannot prove what it needs, and stop.
    """
    objects = snapshot_objects(manifest, lock)
    if protected:  # every cached output dvc.lock names: protecting too much is harmless
        for stage in lock.get("stages", {}).values():
            for out in stage.get("outs", []):
                if out.get("md5"):
                    objects.setdefault(out["md5"], out.get("path", "?"))
    for md5 in [m for m in objects if m.endswith(".dir")]:
        files = listings.files(md5)
        if files is None:
            if protected and any("md5" not in p for p in snapshot_parts(manifest)):
                raise IntegrityError(
                    f"cannot tell which objects {label} needs: directory listing {md5} is neither "
                    "in the DVC cache nor on the remote, and its manifest has no md5 per file",
                    "nothing was deleted; `dvc pull` that revision or pin fewer versions",
                )
            continue
        for f in files:
            objects.setdefault(f, f"file in {objects[md5].split(' ')[0]}")
    return {m: d for m, d in objects.items() if s3.MD5.fullmatch(m)}


def other_refs(root: Path) -> list[tuple[str, str]]:
    """(ref, commit) for HEAD and every ref that is not a snapshot version tag."""
    out = git(root, "for-each-ref", "--format=%(refname)\t%(*objectname)\t%(objectname)")
    refs = []
    for line in out.splitlines():
        ref, peeled, direct = line.split("\t")
        if not ref.startswith(f"refs/tags/{TAG_PREFIX}"):
            refs.append((ref, peeled or direct))
    head = commit_of(root, "HEAD")
    if head:
        refs.append(("HEAD", head))
    return refs


# --- the plan --------------------------------------------------------------------------------


@dataclass
class Doomed:
    md5: str
    what: str
    key: str
    size: int | None  # None: not on the remote (already gone)


@dataclass
class Plan:
    kept: list[Version]
    reasons: dict[str, list[str]]  # kept tag -> why the retention policy keeps it
    pinned: dict[str, str]  # tag -> where it was pinned (params.yaml / --pin)
    pinned_versions: list[Version]
    pruned: list[Version]
    objects: list[Doomed] = field(default_factory=list)
    still_needed: int = 0  # objects of pruned versions that something protected still needs
    resumed: int = 0  # objects carried over from an interrupted `prune --yes`
    hand_tags: list[str] = field(default_factory=list)  # other tags on snapshot commits (protected)
    # The bucket catalog (catalog.py): versions index.json lists that no tag here names (kept,
    # their objects protected), and the catalog entries that go with the pruned versions.
    catalog_only: list[str] = field(default_factory=list)
    catalog_pruned: list[str] = field(default_factory=list)  # version names (manifest "version")
    catalog_resumed: list[str] = field(default_factory=list)  # entries left by an interrupted prune
    has_index: bool = False
    policy: str = ""  # the retention policy and where it comes from, for the operator

    @property
    def present(self) -> list[Doomed]:
        return [o for o in self.objects if o.size is not None]

    @property
    def bytes(self) -> int:
        return sum(o.size or 0 for o in self.objects)


def make_plan(
    root: Path, params: Params, settings: RemoteSettings, client: Any, *, policy: Retention, pins: Sequence[str]
) -> Plan:
    versions = list_versions(root)
    pinned = resolve_pins(
        versions, [*((p, "params.yaml backup.pinned") for p in params.backup.pinned), *((p, "--pin") for p in pins)]
    )
    kept, pinned_versions, pruned, reasons = choose(versions, policy, pinned)
    from seedctl.store import catalog

    index, _ = catalog.read_index(client, settings)
    names = {v.tag: str(v.manifest(root)["version"]) for v in versions}
    latest = (index or {}).get("latest")
    for v in [v for v in pruned if names[v.tag] == latest]:  # latest/manifest.json names it: never pruned
        pruned.remove(v)
        pinned_versions.append(v)
        pinned[v.tag] = "the bucket's latest"
    plan = Plan(kept, reasons, pinned, pinned_versions, pruned)
    plan.hand_tags = other_snapshot_tags(root)
    listings = Listings(root, settings, client)
    listed = catalog.listed(index)
    plan.has_index = index is not None
    kept_names = {names[v.tag] for v in [*kept, *pinned_versions]}
    # Two tags can name one catalog entry (the same manifest tagged twice): it stays while
    # any of them is kept.
    plan.catalog_pruned = sorted({names[v.tag] for v in pruned} - kept_names)
    plan.catalog_only = [name for name in listed if name not in names.values()]
    plan.catalog_resumed = sorted(set(read_journal_catalog(root)) - set(listed) - kept_names - set(plan.catalog_pruned))

    protected: set[str] = set()
    for v in [*kept, *pinned_versions]:
        protected |= needed_objects(
            v.manifest(root), dvc_lock_at(root, v.commit), listings, label=v.tag, protected=True
        ).keys()
    for ref, commit in other_refs(root):
        if holds_snapshot(root, commit):
            protected |= needed_objects(
                json.loads(git(root, "show", f"{commit}:seeds/manifest.json")),
                dvc_lock_at(root, commit),
                listings,
                label=ref,
                protected=True,
            ).keys()
    protected |= _work_tree_objects(root, listings)
    for name in plan.catalog_only:  # pushed from another clone: this one cannot judge it
        protected |= catalog_objects(client, settings, listed[name])

    doomed: dict[str, str] = {}
    for v in pruned:
        doomed.update(
            needed_objects(v.manifest(root), dvc_lock_at(root, v.commit), listings, label=v.tag, protected=False)
        )
    pending = read_journal(root)
    plan.resumed = len(set(pending) - set(doomed) - protected)
    doomed = {**pending, **doomed}
    plan.still_needed = len(doomed.keys() & protected)
    for md5 in sorted(doomed.keys() - protected):
        key = s3.object_key(settings.prefix, md5)
        plan.objects.append(Doomed(md5, doomed[md5], key, head_size(client, settings, key)))
    return plan


def _work_tree_objects(root: Path, listings: Listings) -> set[str]:
    manifest_path, lock_path = root / "seeds" / "manifest.json", root / "dvc.lock"
    if not manifest_path.is_file():
        return set()
    import yaml

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) if lock_path.is_file() else {}
    return set(needed_objects(manifest, lock or {}, listings, label="the work tree", protected=True))


# --- the remote ------------------------------------------------------------------------------


def head_size(client: Any, settings: RemoteSettings, key: str) -> int | None:
    found = s3.head(client, settings, key)
    return None if found is None else found[0]


def get_object(client: Any, settings: RemoteSettings, key: str) -> bytes | None:
    from botocore.exceptions import ClientError

    with s3.errors(settings, f"GET s3://{settings.bucket}/{key}"):
        try:
            return bytes(client.get_object(Bucket=settings.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if s3.missing(exc):
                return None
            raise


def delete_keys(client: Any, settings: RemoteSettings, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        with s3.errors(settings, f"deleting objects from s3://{settings.bucket}"):
            answer = client.delete_objects(
                Bucket=settings.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise RemoteError(
                f"deleting s3://{settings.bucket}/{first.get('Key')} failed: {first.get('Code')} "
                f"({len(errors)} object(s) not deleted)",
                "the version tags are already gone; rerun `seedctl prune --yes` to finish",
            )


# --- the journal of an interrupted prune -------------------------------------------------------


def read_journal(root: Path) -> dict[str, str]:
    path = root / JOURNAL
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise IntegrityError(f"{path} is unreadable", "delete it if no prune was interrupted") from None
    return {m: str(d) for m, d in data.get("objects", {}).items() if s3.MD5.fullmatch(m)}


def read_journal_catalog(root: Path) -> list[str]:
    """The catalog entries (version names) an interrupted `prune --yes` was deleting."""
    try:
        data = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(v) for v in data.get("catalog", []) if isinstance(v, str)]


def write_journal(root: Path, objects: dict[str, str], catalog: Sequence[str] = ()) -> None:
    path = root / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    document = {"objects": objects, "catalog": sorted(catalog)}
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def catalog_objects(client: Any, settings: RemoteSettings, line: dict[str, Any]) -> set[str]:
    """md5s of the objects a version's catalog entry names (its files.json, checked against
    index.json's sha256 for it). Fail closed: unreadable, nothing can be deleted safely."""
    from seedctl.store import catalog

    version = str(line["version"])
    bucket_key = catalog.entry_key(settings.prefix, version, catalog.FILES_FILE)
    found = catalog.get(client, settings, bucket_key)
    try:
        if found is None or catalog.sha256(found[0]) != line["sha256"][catalog.FILES_FILE]:
            raise ValueError
        files = json.loads(found[0])["files"]
        md5s = {str(f["md5"]) for f in files.values()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(
            f"cannot tell which objects version {version} needs: index.json lists it, and "
            f"s3://{settings.bucket}/{bucket_key} is missing or does not match index.json",
            "nothing was deleted; run `seedctl catalog` in a clone that has the git history",
        ) from None
    return {m for m in md5s if s3.MD5.fullmatch(m)}


# --- doing it --------------------------------------------------------------------------------


@dataclass
class PruneResult:
    plan: Plan
    done: bool
    local_cache_bytes: int = 0


def run_prune(params_path: Path, *, keep: int | None, pins: Sequence[str], yes: bool, local_cache: bool) -> PruneResult:
    """Prune by params.yaml's retention (backup.retention, else retention_count), or by
    `--keep N` instead: the newest N."""
    from seedctl.config import Retention, load_params
    from seedctl.store.settings import load_settings

    if keep is not None and keep < 1:
        raise ConfigError(f"--keep must be at least 1 (got {keep})", "retention never removes every snapshot version")
    params = load_params(params_path)
    root = params_path.resolve().parent
    policy = params.backup.retention_policy if keep is None else Retention(last=keep)
    if keep is not None:
        origin = "--keep"
    else:
        origin = "backup.retention" if params.backup.retention is not None else "backup.retention_count"
    said = f"retention ({origin}): {describe(policy)}"
    settings = load_settings(root, params)
    s3.check(settings)
    client = s3.client(settings, timeout_s=60, attempts=3)
    if not yes:
        plan = make_plan(root, params, settings, client, policy=policy, pins=pins)
        plan.policy = said
        return PruneResult(plan, done=False)

    from seedctl.store.lock import checkout_lock

    # The snapshot lock: a snapshot running meanwhile could push (or find already present,
    # and so not upload) an object we are about to delete, then tag it.
    with checkout_lock(root, "prune"):
        plan = make_plan(root, params, settings, client, policy=policy, pins=pins)
        plan.policy = said
        # Order: journal, tags, objects. Deleting the tags first means an interruption can
        # never leave a version tag naming data the remote no longer has (objects first
        # would: killed half-way, the old tags would still promise restores that fail).
        # The worst an interruption leaves is unreferenced objects; the journal names them
        # and the next `prune --yes` deletes them, after checking them again against
        # everything it protects then. Kept and pinned versions are safe in every order:
        # their objects are never in the plan.
        # The catalog first of all: index.json stops listing the pruned versions (compare-and-
        # swap) before their entries, tags or objects go, so that it never names anything gone.
        entries = [*plan.catalog_pruned, *plan.catalog_resumed]
        write_journal(root, {o.md5: o.what for o in plan.objects}, entries)
        if plan.has_index and plan.catalog_pruned:
            from seedctl.store import catalog

            index, _ = catalog.update_index(
                client, settings, lambda index: catalog.merged(index, remove=plan.catalog_pruned)
            )
            catalog.write_latest(client, settings, index)
        if plan.pruned:
            git(root, "tag", "-d", *[v.tag for v in plan.pruned])
        delete_keys(client, settings, catalog_keys(settings, entries))
        delete_keys(client, settings, [o.key for o in plan.present])
        freed_local = drop_from_local_cache(root, [o.md5 for o in plan.objects]) if local_cache else 0
        (root / JOURNAL).unlink(missing_ok=True)
    return PruneResult(plan, done=True, local_cache_bytes=freed_local)


def catalog_keys(settings: RemoteSettings, versions: Iterable[str]) -> list[str]:
    """The keys of these versions' catalog entries (manifest.json first: an entry without it
    is, to a reader, incomplete whatever remains of it)."""
    from seedctl.store import catalog

    order = (catalog.MANIFEST_FILE, *[n for n in catalog.ENTRY_FILES if n != catalog.MANIFEST_FILE])
    return [catalog.entry_key(settings.prefix, v, name) for v in versions for name in order]


def drop_from_local_cache(root: Path, md5s: Iterable[str]) -> int:
    cache = object_cache(root)
    freed = 0
    for md5 in md5s:
        path = cache(md5)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed
