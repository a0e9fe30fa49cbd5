"""Commands that move snapshots and bring them back: remote, push, pull, restore, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from seedctl.cli.common import ParamsOpt, out, project_root, run, seeds_dir
from seedctl.config import load_params
from seedctl.errors import ConfigError, IntegrityError
from seedctl.restore import MODES, Mode


def remote(params: ParamsOpt = Path("params.yaml")) -> None:
    """Configure the DVC remote from MINIO_* (environment or .env) and check it answers.

    Endpoint and keys go to .dvc/config.local only (never into git).
    """
    from seedctl.store.remote import setup_remote

    def go() -> None:
        s = setup_remote(project_root(params), load_params(params))
        out.print(
            f"remote {s.name}: {s.url} at {s.endpoint_url} (bucket '{s.bucket}' reachable); "
            "endpoint and keys in .dvc/config.local",
            soft_wrap=True,
        )

    run(go)


def push(params: ParamsOpt = Path("params.yaml")) -> None:
    """Upload the checked-out snapshot's data to the remote (only a validated snapshot).

    Then its entry in the bucket catalog (<prefix>/<version>/: manifest, checksums, params,
    files.json), index.json and latest/manifest.json, once every object is verified there.
    """
    from seedctl.store.push import push as push_snapshot

    def go() -> None:
        result = push_snapshot(project_root(params), load_params(params), params_file=params)
        out.print(str(result), soft_wrap=True)

    run(go)


def pull(params: ParamsOpt = Path("params.yaml")) -> None:
    """Make seeds/ match the checked-out snapshot: from the DVC cache, else the remote.

    Files or cached objects whose bytes do not match are moved to .dvc/tmp/quarantine/
    and fetched again (what `dvc pull` cannot do: it trusts a damaged cached object).
    """
    from seedctl.store.push import pull as pull_snapshot
    from seedctl.store.push import pulled_summary

    def go() -> None:
        loaded = load_params(params)
        out.print(pulled_summary(pull_snapshot(project_root(params), loaded), loaded.storage.remote), soft_wrap=True)

    run(go)


def _mode(ctx: typer.Context, value: str) -> str:
    """--mode checked here rather than by Click's choice, so that an unknown mode fails as every
    bad command-line value does: one line naming where it came from, exit 2."""
    if value not in MODES:
        source = ctx.get_parameter_source("mode")
        from_env = source is not None and source.name == "ENVIRONMENT"  # Typer vendors its own Click (typer._click)
        run(lambda: _unknown_mode(value, "SEEDCTL_RESTORE_MODE" if from_env else "--mode"))  # one line, typer.Exit
    return value


def _unknown_mode(value: str, origin: str) -> None:
    raise ConfigError(f"{origin} {value!r} is not a restore mode", f"use one of: {', '.join(MODES)}")


def _jobs(value: int | None) -> int | None:
    """--jobs checked here: a count below 1 fails as every bad command-line value does (one line, exit 2)."""
    if value is not None and value < 1:
        run(lambda: _bad_jobs(value))  # one line, typer.Exit
    return value


def _bad_jobs(value: int) -> None:
    raise ConfigError(f"--jobs {value} is not a number of connections", "use --jobs 1 or more (1: one connection)")


def restore(
    params: ParamsOpt = Path("params.yaml"),
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            envvar="SEEDCTL_RESTORE_MODE",
            callback=_mode,
            metavar="[safe|replace|append|missing]",
            help="safe: refuse non-empty tables | replace: overwrite | append: add rows whose key "
            "is missing | missing: only absent or empty tables.",
        ),
    ] = "safe",
    rev: Annotated[
        str | None, typer.Option("--rev", help="Restore the snapshot of this git tag/commit; work tree untouched.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            metavar="NAME",
            help="Restore only this table (a source or its table name); repeatable. "
            "Other tables are neither fetched nor touched.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Restore only rows whose time column is at or after DATE (ISO date or "
            "timestamp); only the files of the range are fetched.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="DATE",
            help="Restore only rows whose time column is at or before DATE (a date takes in its whole day).",
        ),
    ] = None,
    from_bucket: Annotated[
        bool,
        typer.Option(
            "--from-bucket",
            help="Restore from the bucket's catalog alone (MINIO_*, or params.yaml's storage here): "
            "no git, no DVC project; every file verified as it is downloaded.",
        ),
    ] = False,
    version: Annotated[
        str | None,
        typer.Option("--version", metavar="VERSION", help="With --from-bucket: latest (default) or a version."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            callback=_jobs,
            help="Load the tables the restore creates over N connections, switched in by one "
            "final commit (default 1: one connection, one transaction, as pg_restore without -j).",
        ),
    ] = None,
) -> None:
    """Restore the checked-out snapshot into the database, all or nothing.

    Data files are verified against the manifest before the database is touched; tables
    are loaded in one transaction and checked (rows and content) before COMMIT.

    With --since/--until only the rows of that range are restored (tables with a time
    column only), under the same modes: safe and missing load only absent or empty tables;
    replace deletes the target's rows in the range and loads the snapshot's; append adds
    the range's rows and refuses (nothing changed) if one is already there. The range's
    rows and content checksum in the target must equal the snapshot's rows of the range.

    With --jobs N (N > 1) the tables it creates (plain tables absent on the target) are
    loaded, indexed and checked over N connections in a staging schema, then moved into
    place by the restore's one transaction: still nothing visible before its COMMIT. A
    SIGKILL (not SIGTERM) of such a run can leave its staging schema, which the next
    restore drops: so, as pg_restore -j, it is asked for, never the default.
    """
    from seedctl.errors import HookFailed
    from seedctl.restore.acquire import raise_if_degraded
    from seedctl.restore.run import restore_from_bucket, restore_snapshot

    def go() -> None:
        if from_bucket and rev is not None:
            raise ConfigError("--rev is a git revision; --from-bucket reads no git", "name the version with --version")
        if version is not None and not from_bucket:
            raise ConfigError("--version names a version in the bucket", "add --from-bucket, or use --rev for git")
        chosen: dict[str, Any] = {
            "mode": cast(Mode, mode),
            "dry_run": dry_run,
            "tables": tables,
            "since": since,
            "until": until,
            "jobs": jobs,
        }
        report = (
            restore_from_bucket(project_root(params), version or "latest", **chosen)
            if from_bucket
            else restore_snapshot(project_root(params), rev=rev, **chosen)
        )
        manifest, results = report.manifest, report.tables
        title = "restore plan (dry run, nothing changed)" if dry_run else "restored"
        table = Table(
            "table", "source", "action", "rows", "time", "verified", title=f"{title}: snapshot {manifest['version']}"
        )
        for r in results:
            origin = (
                r.data.origin
                if r.data.origin != "fallback" or not r.data.fallback
                else f"fallback {r.data.fallback.path.name}"
            )
            table.add_row(
                r.data.table.qualified,
                origin,
                r.action,
                f"{r.loaded_rows:,}",
                "-" if dry_run else f"{r.seconds:.1f} s",
                r.verified or "-",
            )
        out.print(table)
        for r in results:
            for note in r.data.notes + r.notes:
                level = "yellow" if r.data.origin in ("fallback", "empty") else "dim"
                out.print(f"[{level}]{r.data.source}: {note}[/{level}]", soft_wrap=True)  # one line each
        if report.hook:
            h = report.hook
            status = "timed out" if h.exit_code == -1 else f"exited {h.exit_code}"
            out.print(f"post-restore hook `{h.command}` {status} after {h.seconds:.1f} s")
            if h.exit_code:
                raise HookFailed(
                    f"restore committed, but the post-restore hook {status}",
                    "the data is in place; run the hook's job by hand",
                )
        if from_bucket and not dry_run:
            out.print("post-restore hook: not run (restored from the bucket, there is no checkout to run it in)")
        if not dry_run:
            raise_if_degraded(results)

    run(go)


def verify(
    params: ParamsOpt = Path("params.yaml"),
    database: Annotated[bool, typer.Option("--db", help="Also compare the live database with the snapshot.")] = False,
) -> None:
    """Check the snapshot's files against its manifest (sha256); with --db, the database too."""
    from seedctl.restore.verify import compare_database, verify_snapshot_files

    def go() -> None:
        manifest = verify_snapshot_files(seeds_dir(params))
        out.print(f"snapshot {manifest['version']}: all files match the manifest")
        if not database:
            return
        results = compare_database(manifest)
        table = Table("table", "snapshot rows", "database rows", "content", title="database vs snapshot")
        for r in results:
            content = "equal" if r.checksum_equal else ("differs" if r.checksum_equal is False else "-")
            table.add_row(
                r.table,
                f"{r.snapshot_rows:,}",
                "absent" if r.database_rows is None else f"{r.database_rows:,}",
                content,
            )
        out.print(table)
        differ = [r for r in results if not r.equal]
        if differ:
            raise IntegrityError(
                f"{len(differ)} table(s) differ from snapshot {manifest['version']}: "
                f"{', '.join(r.table for r in differ)}",
                "restore with `make restore MODE=replace` if the snapshot is right",
            )

    run(go)
