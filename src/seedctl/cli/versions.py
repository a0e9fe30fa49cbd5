"""Commands about snapshot versions (seeds/v* tags): list, show, diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seedctl.cli.common import ParamsOpt, human_bytes, out, project_root, run, seeds_dir, tables_table
from seedctl.config import load_params


def list_(
    params: ParamsOpt = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    no_remote: Annotated[bool, typer.Option("--no-remote", help="Do not ask the remote.")] = False,
    from_bucket: Annotated[
        bool,
        typer.Option(
            "--from-bucket", help="List the versions of the bucket's catalog (its index.json): no git needed."
        ),
    ] = False,
) -> None:
    """List every snapshot version: date, rows per table, bytes, and whether the remote holds its data.

    With --from-bucket, the versions the bucket's catalog lists (MINIO_*, or params.yaml's
    storage here), with their tags, dates, rows and sizes, read from the bucket alone.

    Remote presence is one HEAD request per object a version needs (MINIO_* from the
    environment or .env); without MINIO_* the list says `remote: not configured`. A version
    with objects missing from the remote can no longer be restored from it.
    """
    from seedctl.store.inventory import build_inventory

    if from_bucket:
        run(lambda: _bucket_versions(project_root(params), as_json))
        return

    def go() -> None:
        inv = build_inventory(project_root(params), load_params(params), check_remote=not no_remote)
        if as_json:
            print(
                json.dumps(
                    {
                        "remote": inv.remote_url,
                        "remote_problem": inv.remote_problem,
                        "versions": [v.to_dict() for v in inv.versions],
                        "other_snapshot_tags": inv.other_tags,
                    },
                    indent=2,
                )
            )
            return
        if inv.other_tags:
            out.print(
                f"versions are the seeds/v* tags; also on snapshot commits (not listed as versions, "
                f"never pruned; `seedctl restore --rev <tag>`): {', '.join(inv.other_tags)}",
                soft_wrap=True,
            )
        if not inv.versions:
            out.print("no snapshot versions yet (no seeds/v* tags): take one with `seedctl snapshot`")
            return
        if inv.remote_url is None:
            out.print(
                "remote: not configured (set MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY or .env to check it)"
                if not no_remote
                else "remote: not checked"
            )
        else:
            out.print(f"remote: {inv.remote_url}")
        if inv.remote_problem:
            out.print(f"[yellow]remote presence unknown: {inv.remote_problem}[/yellow]")
        names = list(dict.fromkeys(n for v in inv.versions for n in v.rows))
        table = Table("version", "created")
        for name in [*names, "total"]:
            table.add_column(name, justify="right")
        table.add_column("remote")
        for v in inv.versions:
            remote = v.remote_text if inv.remote_url else "-"
            style = {"complete": "green", "missing": "red", "unknown": "yellow"}.get(v.remote, "")
            table.add_row(
                v.tag,
                v.created_at.replace("T", " "),
                *[f"{v.rows[n]:,}" if n in v.rows else "-" for n in names],
                human_bytes(v.total_bytes),
                f"[{style}]{remote}[/{style}]" if style else remote,
            )
        out.print(table)
        for v in inv.versions:
            for desc in v.missing:
                out.print(f"[red]{v.tag}: missing in the remote: {desc}[/red]")

    run(go)


def _bucket_versions(root: Path, as_json: bool) -> None:
    from seedctl.store.bucket import open_bucket

    bucket = open_bucket(root)
    index = bucket.index()
    if as_json:
        versions = [e.to_dict() for e in index.versions]
        print(json.dumps({"bucket": bucket.url, "latest": index.latest, "versions": versions}, indent=2))
        return
    out.print(f"bucket: {bucket.url} (its catalog, index.json); latest: {index.latest or '-'}", soft_wrap=True)
    if not index.versions:
        out.print("no snapshot versions in the catalog yet: take one with `seedctl snapshot`")
        return
    names = list(dict.fromkeys(n for e in index.versions for n in e.tables))
    table = Table()
    for name in ("version", "tag", "created"):
        table.add_column(name, no_wrap=True)
    for name in [*names, "rows", "size"]:
        table.add_column(name, justify="right")
    for e in index.versions:
        table.add_row(
            e.version,
            e.tag or "-",
            e.created_at.replace("T", " "),
            *[f"{e.tables[n]:,}" if n in e.tables else "-" for n in names],
            f"{e.rows:,}",
            human_bytes(e.size_bytes),
        )
    out.print(table)


def show(
    version: Annotated[
        str | None,
        typer.Argument(
            help="A version: tag (seeds/v2026.01.18), its date part (2026.01.18) or `latest`. "
            "Default: the checked-out snapshot.",
            show_default=False,
        ),
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report (manifest + rows per month) to this file.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show a snapshot's manifest as a table: the checked-out one, or any version from git."""
    from seedctl.layout import load_manifest

    def go() -> None:
        if version is None:
            data, label = load_manifest(seeds_dir(params)), "checked-out snapshot"
        else:
            from seedctl.store.versions import resolve

            found = resolve(project_root(params), version)
            data, label = found.manifest(project_root(params)), found.tag
        if html is not None:
            from seedctl.snapshot.coverage import write_html

            write_html(html, data, title=f"seedctl snapshot {data['version']} ({label})")
        if as_json:
            print(json.dumps(data, indent=2))
            return
        out.print(
            f"snapshot [bold]{data['version']}[/bold] ({label})  created {data['created_at']}  by {data['created_by']}"
        )
        compat = data["compatibility"]
        out.print(
            f"PostgreSQL {compat['postgres_version']}, TimescaleDB {compat['timescaledb_version'] or '-'}, "
            f"snapshot format {compat['schema_version']}"
        )
        out.print(tables_table(data))
        if html is not None:
            out.print(f"HTML report written to {html}")

    run(go)


def diff(
    a: Annotated[str, typer.Argument(help="The first version (tag, date part or `latest`).")],
    b: Annotated[str, typer.Argument(help="The second version.")],
    params: ParamsOpt = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Compare two snapshot versions by primary key: rows added, removed and changed per table,
    date-range and schema changes.

    Data comes from the DVC cache, else the remote (MINIO_*); every file is checked against
    its manifest first. Each table is compared in memory (both versions at once).
    """
    from seedctl.store.diff import diff_versions
    from seedctl.store.versions import resolve

    def go() -> None:
        root = project_root(params)
        result = diff_versions(root, load_params(params), resolve(root, a), resolve(root, b))
        if as_json:
            print(json.dumps(result.to_dict(), indent=2))
            return
        out.print(f"{result.a} ({result.version_a}) -> {result.b} ({result.version_b})")
        table = Table("table")
        for name in ("rows A", "rows B", "added", "removed", "changed"):
            table.add_column(name, justify="right")
        table.add_column("date range A -> B")
        table.add_column("schema")
        for t in result.tables:
            table.add_row(
                t.name,
                _count(t.rows_a),
                _count(t.rows_b),
                _count(t.added),
                _count(t.removed),
                _count(t.changed),
                _range_change(t.range_a, t.range_b),
                "; ".join(t.schema_changes) or "-",
            )
        out.print(table)
        for t in result.tables:
            if t.changed_columns:
                cols = ", ".join(f"{c} {n:,}" for c, n in t.changed_columns.items())
                out.print(f"{t.name}: changed rows per column: {cols}")
            if t.note:
                out.print(f"{t.name}: {t.note}")

    run(go)


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _range_change(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    """`unchanged`, or which end moved: `to 2026-01-15 -> 2026-01-22`."""
    a, b = a or {}, b or {}
    if not (a.get("min") or b.get("min")):
        return "-"
    changes = [
        f"{label} {a.get(end) or '-'} -> {b.get(end) or '-'}"
        for end, label in (("min", "from"), ("max", "to"))
        if a.get(end) != b.get(end)
    ]
    return "; ".join(changes) or "unchanged"
