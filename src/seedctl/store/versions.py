"""Snapshot versions: annotated git tags `seeds/vYYYY.MM.DD` (`-2`, `-3`... for a second
snapshot on the same day), each on the commit that holds that snapshot's dvc.lock and
seeds/manifest.json. Everything about a version is read from git, never from the work tree.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from seedctl.errors import Failed, NotFound
from seedctl.parts import snapshot_parts

TAG_PREFIX = "seeds/v"


@dataclass(frozen=True)
class Version:
    tag: str
    commit: str
    tagged_at: datetime

    def manifest(self, project_root: Path) -> dict[str, Any]:
        return json.loads(git(project_root, "show", f"{self.commit}:seeds/manifest.json"))

    def objects(self, project_root: Path) -> dict[str, str]:
        """Remote objects (DVC md5 content addresses) this version needs -> what they are."""
        return snapshot_objects(self.manifest(project_root), dvc_lock_at(project_root, self.commit))


def git(project_root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=project_root, capture_output=True, text=True, check=False)
    if result.returncode:
        detail = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise Failed(f"git {' '.join(args[:2])} failed: {detail}")
    return result.stdout


def newest_first(versions: Iterable[Version]) -> list[Version]:
    """By tag time; ties within a second broken by the tag's day and its -N suffix."""

    def key(v: Version) -> tuple[Any, ...]:
        m = _TAG.fullmatch(v.tag)
        name = (date(int(m[1]), int(m[2]), int(m[3])), int(m[4] or 1)) if m else (date.min, 0)
        return (v.tagged_at.replace(microsecond=0).timestamp(), name, v.tag)

    return sorted(versions, key=key, reverse=True)


_TAG = re.compile(r"seeds/v(\d{4})\.(\d{2})\.(\d{2})(?:-(\d+))?")


def list_versions(project_root: Path) -> list[Version]:
    """Every snapshot version, newest first."""
    out = git(
        project_root,
        "for-each-ref",
        "--sort=-creatordate",
        "--format=%(refname:strip=2)\t%(*objectname)\t%(objectname)\t%(creatordate:iso-strict)",
        f"refs/tags/{TAG_PREFIX}*",
    )
    versions = []
    for line in out.splitlines():
        tag, peeled, direct, when = line.split("\t")
        versions.append(Version(tag, peeled or direct, datetime.fromisoformat(when)))
    return newest_first(versions)


def tag_holding(project_root: Path, manifest: Path) -> str | None:
    """The newest version tag whose commit holds exactly this manifest file, or None: the
    work tree's snapshot was never tagged (a tag is made only once its data is pushed)."""
    versions = list_versions(project_root)
    if not versions or not manifest.is_file():
        return None
    blob = git(project_root, "hash-object", "--", str(manifest)).strip()
    # One git call for all of them: each line is "<blob> blob <size>", or "<name> missing".
    asked = "".join(f"{v.commit}:seeds/manifest.json\n" for v in versions)
    found = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname)"],
        cwd=project_root,
        input=asked,
        capture_output=True,
        text=True,
        check=False,
    )
    for version, line in zip(versions, found.stdout.splitlines(), strict=False):
        if line.strip() == blob:
            return version.tag
    return None


def holds_snapshot(project_root: Path, commit: str) -> bool:
    """The commit has a seeds/manifest.json: a snapshot can be restored from it."""
    probe = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}:seeds/manifest.json"], cwd=project_root, capture_output=True, check=False
    )
    return probe.returncode == 0


def other_snapshot_tags(project_root: Path) -> list[str]:
    """Tags outside seeds/v* that point at a commit holding a snapshot (tagged by hand).

    They are not versions: `list` names them apart, `prune` never deletes them and keeps
    the data they need; `restore --rev <tag>` restores them like any revision.
    """
    out = git(project_root, "for-each-ref", "--format=%(refname:strip=2)\t%(*objectname)\t%(objectname)", "refs/tags")
    tags = []
    for line in out.splitlines():
        tag, peeled, direct = line.split("\t")
        if not tag.startswith(TAG_PREFIX) and holds_snapshot(project_root, peeled or direct):
            tags.append(tag)
    return sorted(tags)


def resolve(project_root: Path, name: str) -> Version:
    """A version by tag (`seeds/v2026.01.04`), by its date part (`2026.01.04`), or `latest`."""
    versions = list_versions(project_root)
    if not versions:
        raise NotFound("no snapshot versions yet (no seeds/v* tags)", "take one with `seedctl snapshot`")
    if name == "latest":
        return versions[0]
    for v in versions:
        if name in (v.tag, v.tag.removeprefix(TAG_PREFIX), v.tag.removeprefix("seeds/")):
            return v
    raise NotFound(f"no snapshot version {name!r}", "see `seedctl list`")


def next_tag(project_root: Path, day: date) -> str:
    """seeds/vYYYY.MM.DD, or with -2, -3... when that day already has a snapshot."""
    base = f"{TAG_PREFIX}{day:%Y.%m.%d}"
    taken = set(git(project_root, "tag", "--list", f"{base}*").split())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def dvc_lock_at(project_root: Path, rev: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(git(project_root, "show", f"{rev}:dvc.lock")) or {}


def snapshot_objects(manifest: dict[str, Any], lock: dict[str, Any]) -> dict[str, str]:
    """md5 -> description of every remote object a snapshot needs: its data files, its
    schema.json and the directory listing DVC keeps for seeds/data."""
    objects = {p["md5"]: p["file"] for p in snapshot_parts(manifest) if "md5" in p}
    if "schema_md5" in manifest:
        objects[manifest["schema_md5"]] = "schema.json"
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            md5 = out.get("md5", "")
            if md5.endswith(".dir"):
                objects[md5] = f"{out['path']} (directory listing)"
    return objects


def commit_of(project_root: Path, rev: str) -> str | None:
    """The commit a revision (tag, branch, commit) names, or None if it names none."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def snapshot_revision(project_root: Path, version: str) -> str | None:
    """The plan's --version: `latest` is the checkout itself; X is tag seeds/vX, else a revision."""
    if version == "latest":
        return None
    for candidate in (f"seeds/v{version}", f"seeds/{version}", version):
        if commit_of(project_root, candidate) is not None:
            return candidate
    raise NotFound(
        f"no snapshot version {version!r} (no tag seeds/v{version} or revision {version})",
        "list versions with `git tag -l 'seeds/*'`",
    )
