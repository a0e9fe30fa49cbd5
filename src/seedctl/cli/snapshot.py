"""Commands that take and inspect snapshots: snapshot, export, manifest, validate, status.

`show` lives with the other version commands in cli_versions.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedctl.cli.common import ParamsOpt, human_bytes, out, run, seeds_dir, tables_table
from seedctl.config import load_params
from seedctl.errors import ConfigError, IntegrityError


def snapshot(
    params: ParamsOpt = Path("params.yaml"),
    no_push: Annotated[
        bool,
        typer.Option(
            "--no-push",
            help="Stop after validation: no push, and so no commit or tag (a tag never names data the remote lacks).",
        ),
    ] = False,
    no_git: Annotated[bool, typer.Option("--no-git", help="Do everything but the git commit and tag.")] = False,
    git_push: Annotated[bool, typer.Option("--git-push", help="Push the commit and tag to git's origin.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a running snapshot.")] = 0,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Accept past months with fewer rows than the previous snapshot, for this "
            "snapshot only (a source's history was corrected); the manifest records which, by whom, when.",
        ),
    ] = False,
) -> None:
    """Take a snapshot: pipeline (export -> manifest -> validate), push, commit and tag.

    The commit holds exactly dvc.lock and the seeds/ files git tracks; the annotated tag
    is seeds/vYYYY.MM.DD. An unchanged database changes nothing: no commit, no tag, no
    upload. A snapshot that fails validation exits non-zero, is never pushed and never
    becomes LATEST_VERSION. The remote comes from MINIO_* (environment or .env).
    """
    from seedctl.snapshot.pipeline import run_snapshot

    def go() -> None:
        outcome = run_snapshot(
            params,
            push=not no_push,
            commit=not no_git and not no_push,
            git_push=git_push,
            wait_s=wait,
            allow_shrink=allow_shrink,
        )
        if allow_shrink:
            _print_accepted(seeds_dir(params))
        print_summary(seeds_dir(params))
        if outcome.pushed:
            out.print(outcome.pushed)
        if outcome.tag:
            out.print(f"committed and tagged {outcome.tag}")
        elif outcome.unchanged:
            out.print(
                f"database unchanged: still snapshot {outcome.version}; "
                + (
                    "committed the pipeline's record (dvc.lock) only: the pipeline changed, no new tag"
                    if outcome.committed
                    else "nothing committed"
                )
            )

    run(go)


def _print_accepted(seeds: Path) -> None:
    """Say which lost months this snapshot accepted (recorded in its manifest)."""
    from seedctl.layout import load_manifest
    from seedctl.snapshot.history import ACCEPTED_KEY

    record = load_manifest(seeds).get(ACCEPTED_KEY)
    if record:
        months = sum(len(m) for m in record["tables"].values())
        out.print(
            f"accepted lost history: {months} month(s) of {', '.join(record['tables'])} "
            f"(by {record['by']} at {record['at']}, recorded in the manifest)"
        )


def tag(
    params: ParamsOpt = Path("params.yaml"),
    git_push: Annotated[bool, typer.Option("--git-push", help="Push the commit and tag to git's origin.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a running snapshot.")] = 0,
) -> None:
    """Commit and tag the checked-out snapshot (seedctl snapshot's last step, on its own).

    Refuses unless the snapshot passed validation and all its data is in the remote.
    """
    from seedctl.snapshot.pipeline import run_tag

    def go() -> None:
        outcome = run_tag(params, git_push=git_push, wait_s=wait)
        if outcome.tag:
            out.print(f"committed and tagged {outcome.tag} (snapshot {outcome.version})")
        elif outcome.committed:
            out.print(
                f"snapshot {outcome.version} unchanged: committed the pipeline's record (dvc.lock) only, no new tag"
            )
        else:
            out.print(f"nothing changed: snapshot {outcome.version} is already committed")

    run(go)


def export(params: ParamsOpt = Path("params.yaml")) -> None:
    """Export every configured table to seeds/data (the pipeline's first stage)."""
    from seedctl.snapshot.export import run_export

    run(lambda: run_export(load_params(params), seeds_dir(params)))


def manifest(params: ParamsOpt = Path("params.yaml")) -> None:
    """Write seeds/manifest.json and seeds/checksums.sha256 for the exported files."""
    from seedctl.snapshot.stages import manifest as run_manifest
    from seedctl.snapshot.stages import shrink_accepted_by

    run(lambda: run_manifest(load_params(params), seeds_dir(params), shrink_accepted_by()))


def validate(
    params: ParamsOpt = Path("params.yaml"),
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Check as if lost history were accepted (accepts nothing: "
            "`seedctl snapshot --allow-shrink` accepts it for one snapshot).",
        ),
    ] = False,
) -> None:
    """Check the snapshot: row counts, date ranges, null ratios, keys, OHLCV bars, history."""
    from seedctl.snapshot.history import previous_manifest
    from seedctl.snapshot.validate import run_validate

    def go() -> None:
        seeds = seeds_dir(params)
        report = run_validate(load_params(params), seeds, previous=previous_manifest(seeds), allow_shrink=allow_shrink)
        out.print(f"validation passed: {report['version']} ({len(report['tables'])} tables)")

    run(go)


def status(params: ParamsOpt = Path("params.yaml")) -> None:
    """Which snapshot this checkout holds, and whether its data files are present and intact."""
    from seedctl.layout import LATEST_FILE, load_manifest, verify_files
    from seedctl.store.records import verify_records

    def go() -> None:
        seeds = seeds_dir(params)
        data = load_manifest(seeds)
        latest = (seeds / LATEST_FILE).read_text().strip() if (seeds / LATEST_FILE).exists() else None
        out.print(f"checkout holds snapshot {data['version']} (created {data['created_at']})")
        if latest != data["version"]:
            out.print(
                f"[yellow]LATEST_VERSION is {latest or 'missing'}: this snapshot has not passed validation[/yellow]"
            )
        problems = verify_files(seeds, data) + verify_records(seeds.parent, data)
        for problem in problems:
            out.print(f"[red]{problem}[/red]")
        if problems:
            raise IntegrityError(
                f"{len(problems)} problem(s) with the snapshot's files: {problems[0]}",
                "run `seedctl pull`: it fetches what is missing and moves damaged files aside",
            )
        out.print(f"all {len(data['tables'])} data files present and matching the manifest")

    run(go)


def sample_data(
    scale: Annotated[float, typer.Option(help="Fraction of the plan's sizes (1.0 = ~91k bars).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 20260115,
    yes: Annotated[bool, typer.Option("--yes", help="Replace the tables' rows when they hold any.")] = False,
) -> None:
    """Load the synthetic trading tables into the database (for demos and tests).

    The tables are named like the production ones: when they hold rows, it refuses (and
    names the database) unless told --yes.
    """
    from seedctl.pg import db

    def go() -> None:
        try:
            from seedctl_dev import sample
        except ModuleNotFoundError as exc:
            if exc.name != "seedctl_dev":  # the dev tooling is there but broken: show that
                raise
            # seedctl_dev is not in the wheel: an installed seedctl has no sample data.
            raise ConfigError(
                "sample-data is development tooling", "run it from a checkout after `make setup`"
            ) from None
        target = db.describe_target()
        with db.connect() as conn:
            counts = sample.load_sample_data(conn, seed=seed, scale=scale, target=None if yes else target)
        out.print(f"loaded into {target}:")
        for table, rows in counts.items():
            out.print(f"{table}: {rows:,} rows")

    run(go)


def print_summary(seeds: Path) -> None:
    from seedctl.layout import load_manifest

    data = load_manifest(seeds)
    total = sum(t["size_bytes"] for t in data["tables"].values())
    out.print(f"snapshot {data['version']}: {len(data['tables'])} tables, {human_bytes(total)}")
    out.print(tables_table(data))
