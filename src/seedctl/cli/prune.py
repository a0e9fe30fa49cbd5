"""`seedctl prune`: retention (store/prune.py) as a command: the plan as tables, one summary line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from seedctl.cli.common import ParamsOpt, human_bytes, out, run
from seedctl.store.versions import TAG_PREFIX, git, newest_first

if TYPE_CHECKING:  # the retention code only when `seedctl prune` runs: every other command starts without it
    from seedctl.store.prune import Plan, PruneResult


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:,.2f} MB ({n:,} bytes)"


def summary(result: PruneResult) -> str:
    plan = result.plan
    tags = ", ".join(v.tag for v in reversed(newest_first(plan.pruned)))
    versions = f"{len(plan.pruned)} version{'s' if len(plan.pruned) != 1 else ''}" + (f" ({tags})" if tags else "")
    count = len(plan.present)
    entries = len(plan.catalog_pruned) + len(plan.catalog_resumed) if plan.has_index else 0
    catalog = f" and {entries} catalog entr{'ies' if entries != 1 else 'y'}" if entries else ""
    if result.done:
        line = (
            f"pruned {versions}, deleted {count} object{'s' if count != 1 else ''}{catalog}, "
            f"freed {megabytes(plan.bytes)}"
        )
        if result.local_cache_bytes:
            line += f"; {megabytes(result.local_cache_bytes)} freed in .dvc/cache"
        return line
    return (
        f"dry run: would prune {versions}, delete {count} object{'s' if count != 1 else ''}{catalog}, "
        f"free {megabytes(plan.bytes)}; nothing changed -- run with --yes to do it"
    )


def print_plan(plan: Plan) -> None:
    from seedctl.store.retention import utc

    if plan.policy:
        out.print(plan.policy, soft_wrap=True)
    # Tag times in UTC: the periods retention counts (hour, day, ISO week, month) are UTC's.
    table = Table("version", "commit", "tagged (UTC)", "status")
    status = (
        # One reason a line: a version kept by four tiers would not fit a log line's width.
        {v.tag: "kept: " + "\n      ".join(plan.reasons[v.tag]) for v in plan.kept}
        | {v.tag: f"pinned ({plan.pinned[v.tag]})" for v in plan.pinned_versions}
        | {v.tag: "pruned" for v in plan.pruned}
    )
    for v in newest_first([*plan.kept, *plan.pinned_versions, *plan.pruned]):
        table.add_row(v.tag, v.commit[:10], f"{utc(v.tagged_at):%Y-%m-%d %H:%M:%S}", status[v.tag])
    out.print(table)
    if plan.objects:
        objects = Table("object", "what", "size")
        for o in plan.objects:
            objects.add_row(o.key, o.what, human_bytes(o.size) if o.size is not None else "not on the remote")
        out.print(objects)
    if plan.still_needed:
        out.print(
            f"{plan.still_needed} object(s) of pruned versions are still needed by kept, pinned "
            "or checked-out snapshots and stay"
        )
    if plan.resumed:
        out.print(f"{plan.resumed} object(s) left by an interrupted prune are included")
    if plan.catalog_only:
        out.print(
            f"kept, with their objects: {', '.join(plan.catalog_only)} (listed in the bucket's index.json, "
            "no version tag in this clone)",
            soft_wrap=True,
        )
    if plan.hand_tags:
        out.print(
            f"versions are the {TAG_PREFIX}* tags; also on snapshot commits, never pruned and their data "
            f"kept: {', '.join(plan.hand_tags)}",
            soft_wrap=True,
        )


def prune(
    params: ParamsOpt = Path("params.yaml"),
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep", help="Keep the newest N versions, instead of params.yaml backup.retention / retention_count."
        ),
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option("--pin", help="Also keep this version (repeatable), as params.yaml backup.pinned does."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do it: delete the version tags and remote objects.")] = False,
    local_cache: Annotated[
        bool, typer.Option("--local-cache", help="With --yes, also drop those objects from .dvc/cache.")
    ] = False,
) -> None:
    """Retention: keep the versions backup.retention keeps (and pinned ones), remove the others.

    backup.retention {last, hourly, daily, weekly, monthly} keeps the newest N versions and the
    newest version of each of the last N UTC hours, days, ISO weeks and months that have one
    (`retention_count: N` = `{last: N}`); the plan says why each kept version is kept.

    Removes the older seeds/v* tags, their entries in the bucket catalog (index.json first)
    and the remote objects that no kept or pinned version, the work tree, any branch or any
    other version the bucket's index.json lists still needs; the index's latest is never
    pruned. Only objects named by this project's own manifests, under its own prefix
    (storage.prefix), are ever deleted: other projects in the same bucket are untouched.
    Dry run by default; --yes deletes, and remote deletion cannot be undone.
    """

    from seedctl.store.prune import run_prune

    def go() -> None:
        result = run_prune(params, keep=keep, pins=pin or [], yes=yes, local_cache=local_cache)
        print_plan(result.plan)
        out.print(summary(result), soft_wrap=True)
        if result.done and result.plan.pruned and git(params.resolve().parent, "remote").split():
            out.print(
                "the tags may still exist on git remotes: `git push <remote> --delete "
                + " ".join(v.tag for v in result.plan.pruned)
                + "`",
                soft_wrap=True,
            )

    run(go)
