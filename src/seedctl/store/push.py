"""Push and pull of the checked-out snapshot.

push: the objects a plain `dvc push` would upload that the remote lacks (objects.py), put
from the cache by seedctl itself; `dvc push` (DVC's Python API) whenever that is not
certain. pull: the snapshot's files from the cache, else the remote, every one verified
(fetch.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedctl.config import Params
from seedctl.errors import IntegrityError, RemoteError, ValidationFailed
from seedctl.store import dvc, s3
from seedctl.store.objects import NOT_IN_REMOTE, RemoteObject, absent, pushed_objects
from seedctl.store.remote import configure, connect
from seedctl.store.settings import RemoteSettings, load_settings

if TYPE_CHECKING:
    from seedctl.store.fetch import Fetched


@dataclass(frozen=True)
class PushResult:
    """What `push` did: the snapshot version and how many files went up."""

    version: str
    url: str
    endpoint_url: str
    files_pushed: int
    # Objects seen in the remote with the cache's sizes, when that alone showed nothing to push.
    checked: int | None = None
    # Of those pushed: objects the remote held with another size or md5, now replaced.
    replaced: int = 0
    # The bucket catalog's line (catalog.Published), written once the data is verified there.
    catalog: str | None = None

    def __str__(self) -> str:
        line = self._data_line()
        return f"{line}\n{self.catalog}" if self.catalog else line

    def _data_line(self) -> str:
        if self.replaced:
            return (
                f"snapshot {self.version}: {self.files_pushed} file(s) pushed to {self.url}; "
                f"among them {self.replaced} object(s) the remote held damaged (another size or md5), now replaced"
            )
        if self.files_pushed == 0 and self.checked:
            return f"snapshot {self.version}: remote {self.url} already up to date (all {self.checked} objects present)"
        if self.files_pushed == 0:
            return f"snapshot {self.version}: remote {self.url} already up to date"
        count = f"{self.files_pushed} file{'s' if self.files_pushed != 1 else ''}"
        return f"snapshot {self.version}: {count} pushed to {self.url} at {self.endpoint_url}"


class Connection:
    """load_settings + check in a background thread, so that they overlap other work (the
    snapshot starts one while `dvc repro` runs). It only reads the environment and .env and
    sends a HEAD request: nothing DVC reads is written. result() raises what they raised."""

    def __init__(self, project_root: Path, params: Params) -> None:
        self._outcome: tuple[RemoteSettings, Any] | BaseException | None = None
        self._thread = threading.Thread(
            target=self._connect, args=(project_root, params), name="seedctl-remote", daemon=True
        )
        self._thread.start()

    def _connect(self, project_root: Path, params: Params) -> None:
        try:
            settings = load_settings(project_root, params)
            self._outcome = (settings, s3.checked_client(settings))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
            if self._outcome is None:
                self._outcome = exc

    def result(self) -> tuple[RemoteSettings, Any]:
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


def require_validated(seeds_dir: Path) -> str:
    """The checked-out snapshot's version if it passed validation; else ValidationFailed."""
    from seedctl.layout import LATEST_FILE, REPORT_FILE, load_manifest, verify_files
    from seedctl.store.records import verify_records

    manifest = load_manifest(seeds_dir)
    version = str(manifest.get("version") or "")
    latest_path = seeds_dir / LATEST_FILE
    latest = latest_path.read_text(encoding="utf-8").strip() if latest_path.is_file() else ""
    refuse = "only a validated snapshot may be pushed: run `make snapshot` (or `seedctl validate`)"
    if latest != version:
        raise ValidationFailed(
            f"snapshot {version or '?'} has not passed validation ({latest_path} says {latest or 'nothing'})", refuse
        )
    report_path = seeds_dir / REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise ValidationFailed(f"{report_path} is missing or unreadable", refuse) from None
    if report.get("passed") is not True or report.get("version") not in (None, version):
        raise ValidationFailed(f"{report_path} does not record a pass for snapshot {version}", refuse)
    problems = verify_files(seeds_dir, manifest) + verify_records(seeds_dir.parent, manifest)
    if problems:
        raise IntegrityError(
            f"not pushing snapshot {version}: {problems[0]}",
            "the files differ from the validated manifest: run `make snapshot`",
        )
    return version


def require_in_remote(project_root: Path, params: Params) -> None:
    """RemoteError unless every file of the checked-out snapshot is in the remote."""
    settings, client, config = connect(project_root, params)
    objects = pushed_objects(project_root, settings, config)
    if objects is not None:
        bad = absent(client, settings, objects)
        if bad == {}:
            return
        if bad is not None:  # a definite answer from the remote itself
            key, why = next(iter(bad.items()))
            raise RemoteError(
                f"{len(bad)} object(s) of this snapshot are not in {settings.url} (e.g. {objects[key].label}: {why})",
                "run `seedctl push` first: a tag must never name data the remote lacks",
            )
    missing = dvc.not_in_remote(project_root, settings)
    if missing:
        first = next(iter(missing))
        raise RemoteError(
            f"{len(missing)} file(s) of this snapshot are not in {settings.url} (e.g. {first})",
            "run `seedctl push` first: a tag must never name data the remote lacks",
        )


# The largest object one PUT may carry (S3's limit); larger ones go up through `dvc push`.
_ONE_PUT = 5 * 2**30


def push(
    project_root: Path, params: Params, *, connection: Connection | None = None, params_file: Path | None = None
) -> PushResult:
    """Upload the checked-out, validated snapshot's data to the remote, in DVC's layout.

    When seedctl knows exactly which objects a plain `dvc push` would upload (objects.py) and
    the remote answers clearly which it lacks or holds with another size or md5 (one bucket
    listing, or a HEAD request per object), it uploads those itself, from the cache: what
    `dvc push` would do, without DVC's remote machinery (0.9 s of a 1M-row snapshot's
    4.8 s; uploading the 15 MB takes 0.1 s). Any doubt runs `dvc push` instead.

    Unlike `dvc push`, which takes every file of a directory for present once the
    directory's listing (.dir) is in the remote, so that a file deleted or damaged there is
    never uploaded again (treeverse/dvc#11011; no option to skip that shortcut,
    treeverse/dvc#7532), each object is checked, and the listings go up last.

    Then the bucket catalog (catalog.py): the snapshot's entry, index.json and
    latest/manifest.json, once every object the entry names is verified in the bucket.
    params_file: the params.yaml the snapshot was taken with (default: the project's).
    """
    version = require_validated(project_root / "seeds")
    if connection is None:
        settings, client, config = connect(project_root, params)
    else:
        settings, client = connection.result()
        config = configure(project_root, settings)
    objects = pushed_objects(project_root, settings, config)
    bad = absent(client, settings, objects) if objects is not None else None
    if objects is None or bad is None or any(objects[k].size > _ONE_PUT for k in bad):
        count = dvc.push(project_root, settings)  # DVC uploads a large object in parts
        result = PushResult(version=version, url=settings.url, endpoint_url=settings.endpoint_url, files_pushed=count)
        return _catalogued(result, project_root, params_file, client, settings)  # dvc push: the catalog checks
    if not bad:
        result = PushResult(
            version=version, url=settings.url, endpoint_url=settings.endpoint_url, files_pushed=0, checked=len(objects)
        )
        return _catalogued(result, project_root, params_file, client, settings, verified=objects.keys())
    # Uploads get prune's patience (60 s, 3 attempts), not the 5 s of the quick checks.
    _upload(s3.client(settings, timeout_s=60, attempts=3), settings, {k: objects[k] for k in bad})
    still = absent(client, settings, {k: objects[k] for k in bad})
    if still:
        key, why = next(iter(still.items()))
        raise RemoteError(
            f"after the upload, {len(still)} object(s) are still not right in {settings.url} "
            f"(e.g. {objects[key].label}: {why})",
            "check the bucket (permissions, quota), then `seedctl push` again",
        )
    damaged = sum(1 for why in bad.values() if why != NOT_IN_REMOTE)
    result = PushResult(
        version=version,
        url=settings.url,
        endpoint_url=settings.endpoint_url,
        files_pushed=len(bad),
        replaced=damaged,
    )
    # Every object is now verified: those not in `bad` by the first check, the rest by `still`.
    return _catalogued(result, project_root, params_file, client, settings, verified=objects.keys())


def _catalogued(
    result: PushResult,
    project_root: Path,
    params_file: Path | None,
    client: Any,
    settings: RemoteSettings,
    verified: Collection[str] = (),
) -> PushResult:
    """The pushed snapshot's catalog entry, index and latest (catalog.publish_checkout).
    verified: bucket keys this push has just checked (or uploaded and checked), so the
    catalog does not ask the bucket about them again; after `dvc push`, none."""
    from dataclasses import replace

    from seedctl.store.catalog import publish_checkout
    from seedctl.store.versions import tag_holding

    seeds = project_root / "seeds"
    tag = tag_holding(project_root, seeds / "manifest.json")
    published = publish_checkout(
        project_root, params_file or project_root / "params.yaml", client, settings, tag, verified
    )
    return replace(result, catalog=str(published))


def _upload(client: Any, settings: RemoteSettings, objects: Mapping[str, RemoteObject]) -> None:
    """Put each object from the local cache, after checking that the file's md5 is its
    name, s3.POOL at a time; directory listings (.dir) only once every file is up, as `dvc
    push` orders them (a listing in the remote stands for its files). The server checks the
    bytes it got (Content-MD5). Server-side encryption as DVC's."""
    from concurrent.futures import ThreadPoolExecutor

    files = [k for k in objects if not k.endswith(".dir")]
    listings = [k for k in objects if k.endswith(".dir")]
    for batch in (files, listings):
        if not batch:
            continue
        with ThreadPoolExecutor(max_workers=min(s3.POOL, len(batch))) as pool:
            # list(): the first failure is raised here (the pool finishes the rest first).
            list(pool.map(lambda key: _put(client, settings, key, objects[key]), batch))


def _put(client: Any, settings: RemoteSettings, key: str, obj: RemoteObject) -> None:
    import base64
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    try:
        with obj.cache.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            if digest.hexdigest() != s3.named_md5(key):
                raise RemoteError(
                    f"{obj.label} must be uploaded to {settings.url}, but its copy in the DVC cache ({obj.cache}) "
                    "does not match its md5",
                    "delete that cache file and run `seedctl snapshot` again",
                )
            fh.seek(0)
            with s3.errors(settings, f"uploading {obj.label} to {settings.url}"):
                client.put_object(
                    Bucket=settings.bucket,
                    Key=key,
                    Body=fh,
                    ContentLength=obj.size,
                    ContentMD5=base64.b64encode(digest.digest()).decode(),
                    **s3.encryption(settings),
                )
    except OSError as exc:
        raise RemoteError(f"cannot read {obj.cache} ({exc.strerror})", "run `seedctl snapshot` again") from None


def pull(project_root: Path, params: Params) -> Fetched:
    """Make the checked-out snapshot's files in seeds/ match its manifest: from the DVC cache,
    else the remote; any file or cached object whose bytes do not match is moved to
    .dvc/tmp/quarantine/ and fetched again (where `dvc pull` would say "Everything is up to
    date"). RemoteError naming the first file that could not be had, and why.
    """
    from seedctl.layout import load_manifest
    from seedctl.store.fetch import (
        Quarantine,
        fetch,
        lock_listings,
        open_remote,
        quarantine_root,
        wanted_files,
    )

    seeds = project_root / "seeds"
    reader = open_remote(project_root, params)  # configured and answering, as `dvc pull` needs too
    fetched = fetch(
        project_root,
        seeds,
        wanted_files(load_manifest(seeds)),
        remote=lambda: reader,
        quarantine=Quarantine(quarantine_root(project_root)),
        listings=lock_listings(project_root),
        complete_listings=True,
    )
    if fetched.failures:
        rel, failure = next(iter(fetched.failures.items()))
        more = f" ({len(fetched.failures)} files in all)" if len(fetched.failures) > 1 else ""
        raise RemoteError(f"seeds/{rel} could not be fetched{more}: {failure.detail}", failure.advice)
    return fetched


def pulled_summary(fetched: Fetched, remote: str) -> str:
    """One line: where the files came from, and what was moved aside."""
    counts = {where: sum(1 for v in fetched.found.values() if v == where) for where in ("local", "cache", "remote")}
    line = (
        f"snapshot data in seeds/: {counts['local']} file(s) already right, {counts['cache']} from the "
        f"DVC cache, {counts['remote']} from remote {remote}"
    )
    if fetched.quarantined:
        line += f"; {len(fetched.quarantined)} damaged file(s) moved aside to {_folder(fetched.quarantined[0])}"
    return line


def _folder(path: Path) -> Path:
    """The quarantine run folder (.dvc/tmp/quarantine/<time>) a moved file is in."""
    for parent in path.parents:
        if parent.parent.name == "quarantine":
            return parent
    return path.parent
