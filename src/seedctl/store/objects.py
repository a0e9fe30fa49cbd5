"""Which objects a plain `dvc push` uploads, and whether the remote already holds them.

The snapshot's push asks this first: when the remote holds every object, with the local
cache's size (and, where S3 says it, md5), `dvc push` is not run at all. Every answer here is
"certain, or None": any doubt sends the push to DVC.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedctl.store import s3
from seedctl.store.settings import RemoteSettings

# Checking which objects the remote holds: a listing of at most _LIST_PAGES requests, else
# HEAD requests, s3.POOL at a time.
_LIST_PAGES = 10


@dataclass(frozen=True)
class RemoteObject:
    """One object of the DVC remote: what it is (for messages), its copy in the local cache
    and that copy's size."""

    label: str
    size: int
    cache: Path


# What the fast path understands; anything else in the DVC project means "ask DVC".
_DVC_YAML_KEYS = {"stages", "plots", "metrics", "params"}
_OUT_KINDS = ("outs", "metrics", "plots")
_OUT_OPTIONS = {
    "cache",
    "persist",
    "desc",
    "type",
    "labels",
    "meta",
    "x",
    "y",
    "template",
    "title",
    "x_label",
    "y_label",
    "header",
}
_REMOTE_OPTIONS = {"url", "endpointurl", "access_key_id", "secret_access_key", "region", "sse", "sse_kms_key_id"}


def pushed_objects(
    project_root: Path, settings: RemoteSettings, config: Mapping[str, Any]
) -> dict[str, RemoteObject] | None:
    """Remote key -> object, for every object a plain `dvc push` in project_root uploads.

    Read from dvc.yaml, dvc.lock and the local cache, the way DVC 3 lays out an S3 remote
    (<prefix>/files/md5/<2>/<30>). None whenever the answer is not certain: any DVC file
    besides the root dvc.yaml, templating, an output option or remote setting this does not
    know, a stage without a lock entry, an object missing from the local cache. DVC files
    are found with git (tracked, or untracked and not ignored; a nested repository counts as
    one): walking the tree as DVC does costs seconds where there is a virtualenv.
    """
    import yaml

    remote = (config.get("remote") or {}).get(settings.name) or {}
    if (
        (config.get("core") or {}).get("remote") != settings.name
        or not set(remote) <= _REMOTE_OPTIONS
        or remote.get("url") != settings.url
        or remote.get("endpointurl") != settings.endpoint_url
        or (config.get("cache") or {}).get("dir")
    ):
        return None
    files = _dvc_files(project_root)
    if (
        files is None
        or "dvc.yaml" not in files
        or not all(f == "dvc.yaml" or _pushes_nothing(project_root / f) for f in files)
    ):
        return None
    try:
        text = (project_root / "dvc.yaml").read_text(encoding="utf-8")
        pipeline = _safe_yaml(text)
        lock = _safe_yaml((project_root / "dvc.lock").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if "${" in text or not isinstance(pipeline, dict) or not set(pipeline) <= _DVC_YAML_KEYS:
        return None
    if not isinstance(lock, dict) or not isinstance(lock.get("stages"), dict):
        return None
    md5s: dict[str, str] = {}
    for name, stage in (pipeline.get("stages") or {}).items():
        if not isinstance(stage, dict) or {"foreach", "matrix", "do"} & set(stage):
            return None
        locked = lock["stages"].get(name)
        locked_outs = {str(o.get("path")): o for o in (locked or {}).get("outs") or [] if isinstance(o, dict)}
        for kind in _OUT_KINDS:
            for entry in stage.get(kind) or []:
                found = _cached_out(entry)
                if found is None:
                    return None
                path, cached = found
                if not cached:
                    continue
                out = locked_outs.get(path)
                if out is None or out.get("hash") != "md5" or not s3.MD5.fullmatch(str(out.get("md5"))):
                    return None
                md5s[str(out["md5"])] = path
    from seedctl.store.dvc import object_cache

    cache = object_cache(project_root)
    objects: dict[str, RemoteObject] = {}
    for md5, path in md5s.items():
        listing = cache(md5)
        try:
            objects[s3.object_key(settings.prefix, md5)] = RemoteObject(
                f"{path} (listing {md5})" if md5.endswith(".dir") else path, listing.stat().st_size, listing
            )
            if not md5.endswith(".dir"):
                continue
            entries = json.loads(listing.read_bytes())
            for entry in entries:
                file_md5 = str(entry["md5"])
                if not s3.MD5.fullmatch(file_md5) or file_md5.endswith(".dir"):
                    return None
                copy = cache(file_md5)
                objects[s3.object_key(settings.prefix, file_md5)] = RemoteObject(
                    f"{path}/{entry['relpath']}", copy.stat().st_size, copy
                )
        except (OSError, ValueError, TypeError, KeyError):
            return None
    return objects


def _cached_out(entry: object) -> tuple[str, bool] | None:
    """(path, cached) of one dvc.yaml outs/metrics/plots entry; None when not understood."""
    if isinstance(entry, str):
        return entry, True
    if isinstance(entry, dict) and len(entry) == 1:
        path, options = next(iter(entry.items()))
        options = options or {}
        if isinstance(path, str) and isinstance(options, dict) and set(options) <= _OUT_OPTIONS:
            cached = options.get("cache", True)
            if isinstance(cached, bool):
                return path, cached
    return None


def _dvc_files(project_root: Path) -> list[str] | None:
    """The DVC files git sees in the project (tracked, or untracked and not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "-co", "--exclude-standard", "--", "dvc.yaml", "*/dvc.yaml", "*.dvc"],
            cwd=project_root,
            capture_output=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError:
        return None
    if listed.returncode:
        return None
    return sorted({p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p})


def _pushes_nothing(path: Path) -> bool:
    """A dvc.yaml whose stages have no outputs at all (restore/dvc.yaml): `dvc push` uploads
    nothing for it. False for anything else, or on any doubt."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        pipeline = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if path.name != "dvc.yaml" or "${" in text or not isinstance(pipeline, dict) or set(pipeline) != {"stages"}:
        return False
    stages = pipeline["stages"]
    return isinstance(stages, dict) and all(
        isinstance(stage, dict) and not {"foreach", "matrix", "do", *_OUT_KINDS} & set(stage)
        for stage in stages.values()
    )


def absent(client: Any, settings: RemoteSettings, objects: Mapping[str, RemoteObject]) -> dict[str, str] | None:
    """key -> why, for each object the remote lacks or holds with another size; {} when it
    has them all. None when the remote did not give a clear answer for some object.

    One listing of <prefix>/files/md5/ (1,000 objects per request) while that stays short;
    else (or when listing is not allowed) one HEAD request per object.
    """
    if not objects:
        return {}
    listed = _listed_sizes(client, settings)
    if listed is not None:
        answers = {}
        for key, obj in objects.items():
            size, etag = listed.get(key, (None, ""))
            answers[key] = problem(settings, key, size, etag, obj.size)
        return {key: why for key, why in answers.items() if why}
    return _head_sizes(client, settings, objects)


def problem(settings: RemoteSettings, key: str, remote: int | None, etag: str, cached: int) -> str | None:
    """Why the remote's object is not the cache's, or None. Besides the size, the ETag: for
    an object uploaded in one part without server-side encryption it is the md5 of its bytes,
    which DVC's key names, so a damaged object of the right size is caught too."""
    if remote != cached:
        return _size_problem(remote, cached)
    tag = etag.strip('"')
    if not settings.sse and s3.MD5.fullmatch(tag) and tag != s3.named_md5(key):
        return "corrupt in the remote (its md5 is not the one its name says)"
    return None


# Why an object the remote does not hold at all is absent (the other reasons: damaged).
NOT_IN_REMOTE = "not in the remote"


def _size_problem(remote: int | None, cached: int) -> str:
    return NOT_IN_REMOTE if remote is None else f"{remote} bytes in the remote, {cached} in the cache"


def _listed_sizes(client: Any, settings: RemoteSettings) -> dict[str, tuple[int | None, str]] | None:
    """Key -> (size, ETag) of every object under <prefix>/files/md5/; None when that takes
    more than _LIST_PAGES requests or the listing fails."""
    from botocore import exceptions as bx

    sizes: dict[str, tuple[int | None, str]] = {}
    request: dict[str, Any] = {"Bucket": settings.bucket, "Prefix": s3.objects_prefix(settings.prefix), "MaxKeys": 1000}
    try:
        for _ in range(_LIST_PAGES):
            page = client.list_objects_v2(**request)
            sizes.update((str(o["Key"]), (int(o["Size"]), str(o.get("ETag", "")))) for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return sizes
            request["ContinuationToken"] = page["NextContinuationToken"]
    except (bx.ClientError, bx.BotoCoreError, KeyError, ValueError, TypeError):
        return None
    return None


def _head_sizes(client: Any, settings: RemoteSettings, objects: Mapping[str, RemoteObject]) -> dict[str, str] | None:
    from concurrent.futures import ThreadPoolExecutor

    from seedctl.errors import RemoteError

    def head(key: str) -> str | None | bool:
        try:
            found = s3.head(client, settings, key)
        except (RemoteError, KeyError, ValueError):
            return False
        if found is None:
            return _size_problem(None, objects[key].size)
        return problem(settings, key, *found, objects[key].size)

    with ThreadPoolExecutor(max_workers=min(s3.POOL, len(objects))) as pool:
        answers = dict(zip(objects, pool.map(head, objects)))
    if any(answer is False for answer in answers.values()):
        return None
    return {key: answer for key, answer in answers.items() if isinstance(answer, str)}


def _safe_yaml(text: str) -> Any:
    # CSafeLoader is SafeLoader in C (ten times faster on a large dvc.lock), when libyaml is there.
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
