"""Commands that take and inspect snapshots: snapshot, export, manifest, validate, status.

`show` lives with the other version commands in cli_versions.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    """Which snapshot this checkout holds, whether its data files are present and intact, and
    whether it is published: tagged as a version, else pushed or not (the remote is asked)."""
    from seedctl.layout import LATEST_FILE, load_manifest, verify_files
    from seedctl.store.records import verify_records

    def go() -> None:
        seeds = seeds_dir(params)
        data = load_manifest(seeds)
        latest = (seeds / LATEST_FILE).read_text().strip() if (seeds / LATEST_FILE).exists() else None
        out.print(f"checkout holds snapshot {data['version']} (created {data['created_at']})")
        validated = latest == data["version"]
        if not validated:
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
        if validated:  # intact and validated: is it published?
            out.print(publication_line(seeds.parent, params, data), soft_wrap=True)
        out.print(f"all {len(data['tables'])} data files present and matching the manifest")

    run(go)


def publication_line(root: Path, params: Path, manifest: dict[str, Any]) -> str:
    """Whether the validated snapshot of the checkout is tagged, else pushed, and what to run.

    A run killed between validation and the push leaves LATEST_VERSION naming a snapshot
    that is neither: say so, and how to finish publishing it.
    """
    from rich.markup import escape

    from seedctl.errors import redact
    from seedctl.store.inventory import publication

    version = manifest["version"]
    found = publication(root, load_params(params), manifest)
    if found.tag:
        return f"snapshot {version} is version {found.tag} (tagged only once its data was in the remote)"
    publish = "to publish it, run `seedctl push`, then `seedctl tag`"
    if found.problem:
        return (
            f"[yellow]snapshot {version} (LATEST_VERSION) is not tagged as a version, and the remote could not "
            f"say whether it is pushed: {escape(redact(found.problem))}; {publish}[/yellow]"
        )
    if found.missing:
        return (
            f"[yellow]snapshot {version} (LATEST_VERSION) is not pushed: {len(found.missing)} of its "
            f"{found.needed} objects are not in {found.remote_url} (e.g. {escape(found.missing[0])}), and it is "
            f"not tagged as a version; {publish}[/yellow]"
        )
    return (
        f"[yellow]snapshot {version} (LATEST_VERSION) is in {found.remote_url} but not tagged as a version; "
        "to tag it, run `seedctl tag`[/yellow]"
    )


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
