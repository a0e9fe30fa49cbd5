"""`seedctl restore` from start to end, each step once and in this order: resolve the
revision -> load the snapshot's description (params, manifest, format) -> acquire the files
(acquire.py: workspace, cache, remote, fallback) -> load them in one transaction, verified
before COMMIT (load.py) -> the post-restore hook (hooks.py).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedctl.config import load_params
from seedctl.errors import RestoreRefused
from seedctl.layout import SNAPSHOT_FORMAT, load_manifest
from seedctl.restore import Mode
from seedctl.restore.acquire import acquire
from seedctl.restore.hooks import HookResult, run_post_restore_hook
from seedctl.restore.parallel import load_tables
from seedctl.restore.partial import select
from seedctl.restore.plan import TableResult
from seedctl.restore.revision import checkout_revision
from seedctl.signals import InterruptedAfterCommit
from seedctl.store.lock import checkout_lock
from seedctl.timerange import Bound, time_range


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    tables: list[TableResult]
    hook: HookResult | None = None


def restore_snapshot(
    project_root: Path,
    *,
    mode: Mode = "safe",
    dry_run: bool = False,
    rev: str | None = None,
    pull: bool = True,
    tables: list[str] | None = None,
    since: Bound = None,
    until: Bound = None,
    run_hook: bool = True,
    jobs: int | None = None,
) -> RestoreReport:
    """Restore the snapshot of the checkout (or of git revision `rev`) into the database,
    then run this checkout's post-restore hook, if any. `tables` (sources or table names)
    restores only those; `since`/`until` (inclusive) only the rows of that time range.

    pull=False never contacts the remote: local files, then fallback files. Fallback files
    and the hook are always this checkout's, also for an older `rev`. run_hook=False: no hook.
    jobs: connections loading the tables the restore creates (parallel.py; None: 1);
    backup.single_connection makes it 1.
    """
    window = time_range(since, until)
    report: RestoreReport | None = None
    stopped = ""  # the step an interrupt stops once the restore has committed
    try:
        # The checkout's lock: a snapshot running here replaces the files this restore reads.
        with (
            checkout_lock(project_root, "restore"),
            nullcontext(project_root) if rev is None else checkout_revision(project_root, rev) as root,
        ):
            params = load_params(root / "params.yaml")
            manifest = _readable_manifest(root / "seeds")
            selection = select(manifest, tables or [], window)
            data = acquire(manifest, params, root / "seeds", root, project_root, selection, pull=pull, dry_run=dry_run)
            connections = 1 if params.backup.single_connection else (jobs or 1)
            report = RestoreReport(
                manifest,
                load_tables(
                    data,
                    mode,
                    named=selection.named,
                    dry_run=dry_run,
                    batch_rows=params.backup.batch_rows,
                    jobs=connections,
                ),
            )
        hook = load_params(project_root / "params.yaml").backup.post_restore_hook if run_hook else None
        if hook and not dry_run:
            stopped = f"the post-restore hook `{hook}` was stopped, but "
            report.hook = run_post_restore_hook(
                hook,
                cwd=project_root,
                version=report.manifest["version"],
                loaded=[
                    r.data.table.qualified for r in report.tables if r.action != "keep" and r.data.origin != "empty"
                ],
                empty=[r.data.table.qualified for r in report.tables if r.data.origin == "empty"],
            )
    except KeyboardInterrupt as exc:
        if report is None or dry_run:
            raise  # nothing was committed (the restore's transaction rolled back)
        raise InterruptedAfterCommit(
            exc,
            f"{stopped}the restore had already committed snapshot {report.manifest['version']}: "
            f"{committed(report.tables)}",
            "the data is in place; run the hook's job by hand" if stopped else "the data is in place",
        ) from None
    return report


def restore_from_bucket(
    root: Path,
    version: str = "latest",
    *,
    mode: Mode = "safe",
    dry_run: bool = False,
    tables: list[str] | None = None,
    since: Bound = None,
    until: Bound = None,
    jobs: int | None = None,
) -> RestoreReport:
    """Restore a version from the bucket's catalog alone (store/bucket.py): no git, no DVC project.

    The version's catalog files and then only the data files the selection needs are
    downloaded, each verified, into a private temporary project, which restore_snapshot then
    restores (pull=False) with every guarantee of a checkout's restore. A dry run downloads
    and verifies them too. root gives the remote's settings (its params.yaml, else MINIO_*
    and root/.env). The post-restore hook is not run: it belongs to a checkout.
    """
    import tempfile

    from seedctl.errors import SeedctlError
    from seedctl.store.bucket import open_bucket

    window = time_range(since, until)
    with tempfile.TemporaryDirectory(prefix="seedctl-bucket-", ignore_cleanup_errors=True) as tmp:
        try:
            bucket = open_bucket(root)
            found = bucket.version(version)
            project = found.write_project(Path(tmp))
            manifest = _readable_manifest(project / "seeds")
            selection = select(manifest, tables or [], window)
            rels = [p["file"] for s in selection.sources for p in selection.parts(manifest["tables"][s])]
            bucket.download(found, found.needed(rels), project / "seeds")
        except SeedctlError as exc:
            if exc.exit_code in (1, 2):  # a name that does not exist, a bad value: no need to say it
                raise
            raise type(exc)(exc.message, f"{exc.hint}; the database was not touched" if exc.hint else None) from None
        report = restore_snapshot(
            project,
            mode=mode,
            dry_run=dry_run,
            pull=False,
            tables=tables,
            since=since,
            until=until,
            run_hook=False,
            jobs=jobs,
        )
    for r in report.tables:  # "local" to restore_snapshot: downloaded from the bucket a moment ago
        if r.data.origin == "local":
            r.data.origin = "remote"
    return report


def committed(tables: list[TableResult]) -> str:
    """What a committed restore did to each table, for a line that must say it."""
    parts = []
    for r in tables:
        name = r.data.table.qualified
        if r.action == "keep":
            parts.append(f"{name} kept as it was")
        elif r.action == "create-empty":
            parts.append(f"{name} created empty")
        elif r.action == "append":
            parts.append(f"{name} {r.loaded_rows:,} rows appended")
        elif r.action == "replace":
            parts.append(f"{name} {r.loaded_rows:,} rows loaded, replacing its rows")
        else:  # create, load
            parts.append(f"{name} {r.loaded_rows:,} rows loaded")
    return "; ".join(parts)


def _readable_manifest(seeds_dir: Path) -> dict[str, Any]:
    """The snapshot's manifest, refused if a newer seedctl wrote it."""
    manifest = load_manifest(seeds_dir)
    made_with = manifest.get("compatibility", {}).get("schema_version")
    if not isinstance(made_with, int) or made_with > SNAPSHOT_FORMAT:
        raise RestoreRefused(
            f"snapshot {manifest.get('version')} has format {made_with}; this seedctl reads up to {SNAPSHOT_FORMAT}",
            "upgrade seedctl to restore it",
        )
    return manifest
