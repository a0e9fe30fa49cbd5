"""Inventory: every snapshot version, what it holds, and whether the remote can still serve it.

Versions and their manifests come from git (seeds/v* tags). Remote presence is checked
with one S3 HEAD request per object a version needs (its data files, schema.json and the
seeds/data directory listing), at DVC's content address (s3.object_key). Objects shared
between versions are asked about once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seedctl.config import Params
from seedctl.errors import RemoteError
from seedctl.store import s3
from seedctl.store.settings import RemoteSettings, load_settings
from seedctl.store.versions import Version, list_versions, other_snapshot_tags, snapshot_objects, tag_holding

RemoteState = Literal["complete", "missing", "unknown", "not configured"]


@dataclass
class VersionSummary:
    """One line of `seedctl list`."""

    tag: str
    commit: str
    version: str
    created_at: str
    rows: dict[str, int]
    total_bytes: int
    remote: RemoteState = "not configured"
    missing: list[str] = field(default_factory=list)  # descriptions of missing objects

    @property
    def remote_text(self) -> str:
        if self.remote == "missing":
            n = len(self.missing)
            return f"{n} object{'s' if n != 1 else ''} missing"
        return self.remote

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "commit": self.commit,
            "version": self.version,
            "created_at": self.created_at,
            "rows": self.rows,
            "total_bytes": self.total_bytes,
            "remote": self.remote,
            "missing": self.missing,
        }


@dataclass
class Inventory:
    versions: list[VersionSummary]
    remote_url: str | None  # None: MINIO_* not configured
    remote_problem: str | None = None  # why presence is unknown, if it is
    other_tags: list[str] = field(default_factory=list)  # tags outside seeds/v* on snapshot commits


def summarize(project_root: Path, version: Version) -> tuple[VersionSummary, dict[str, str]]:
    """A version's summary (remote state not yet known) and the remote objects it needs."""
    manifest = version.manifest(project_root)
    tables = manifest["tables"]
    summary = VersionSummary(
        tag=version.tag,
        commit=version.commit,
        version=manifest["version"],
        created_at=manifest["created_at"],
        rows={n: int(t["rows"]) for n, t in tables.items()},
        total_bytes=sum(int(t["size_bytes"]) for t in tables.values()),
    )
    return summary, version.objects(project_root)


def build_inventory(project_root: Path, params: Params, *, check_remote: bool = True) -> Inventory:
    """Every version, newest first, with its remote state (when MINIO_* are configured), and
    the other tags that point at snapshot commits (named apart: they are not versions)."""
    inventory = _build_inventory(project_root, params, check_remote=check_remote)
    inventory.other_tags = other_snapshot_tags(project_root)
    return inventory


def _build_inventory(project_root: Path, params: Params, *, check_remote: bool) -> Inventory:
    listed = [summarize(project_root, v) for v in list_versions(project_root)]
    summaries = [s for s, _ in listed]
    if not check_remote:
        return Inventory(summaries, None)
    try:
        settings = load_settings(project_root, params)
    except RemoteError as exc:
        if " is not set " in exc.message:  # MINIO_* absent: nothing to check, not a failure
            return Inventory(summaries, None)
        for s in summaries:
            s.remote = "unknown"
        return Inventory(summaries, "(misconfigured)", exc.line())
    needed = sorted({md5 for _, objects in listed for md5 in objects})
    try:
        present = objects_present(settings, needed)
    except RemoteError as exc:
        for s in summaries:
            s.remote = "unknown"
        return Inventory(summaries, settings.url, exc.line())
    for summary, objects in listed:
        summary.missing = sorted(desc for md5, desc in objects.items() if not present[md5])
        summary.remote = "missing" if summary.missing else "complete"
    return Inventory(summaries, settings.url)


def objects_present(settings: RemoteSettings, md5s: list[str]) -> dict[str, bool]:
    """md5 -> whether the remote holds that object (one HEAD request each).

    A refused request (403, ...) or an unreachable endpoint is a RemoteError: presence is
    then unknown, which is not the same as missing.
    """
    client = s3.client(settings)
    # A malformed md5 (a damaged manifest) names no object: missing.
    return {
        md5: bool(s3.MD5.fullmatch(md5)) and s3.head(client, settings, s3.object_key(settings.prefix, md5)) is not None
        for md5 in md5s
    }


@dataclass(frozen=True)
class Publication:
    """Whether the checked-out snapshot is published: tagged as a version (and so pushed:
    a tag is made only once the data is in the remote), else what the remote holds of it."""

    tag: str | None  # the version tag holding this snapshot
    remote_url: str | None = None  # None: not asked (tagged), or MINIO_* not configured
    needed: int = 0  # remote objects the snapshot needs
    missing: list[str] = field(default_factory=list)  # of those, the ones the remote lacks
    problem: str | None = None  # why the remote could not say, when it could not


def publication(project_root: Path, params: Params, manifest: dict[str, Any]) -> Publication:
    """The checkout's snapshot: its version tag; when it has none, which of its objects the
    remote lacks (one HEAD request each; nothing is written, not even .dvc/config)."""
    import yaml

    seeds = project_root / "seeds"
    tag = tag_holding(project_root, seeds / "manifest.json")
    if tag is not None:
        return Publication(tag)
    lock_path = project_root / "dvc.lock"
    lock = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}) if lock_path.is_file() else {}
    objects = snapshot_objects(manifest, lock)
    try:
        settings = load_settings(project_root, params)
    except RemoteError as exc:
        return Publication(None, None, len(objects), problem=exc.line())
    try:
        present = objects_present(settings, sorted(objects))
    except RemoteError as exc:
        return Publication(None, settings.url, len(objects), problem=exc.line())
    missing = sorted(desc for md5, desc in objects.items() if not present[md5])
    return Publication(None, settings.url, len(objects), missing)
