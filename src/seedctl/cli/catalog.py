"""`seedctl catalog`: the bucket catalog of a remote written before it existed, from git history."""

from __future__ import annotations

from pathlib import Path

from seedctl.cli.common import ParamsOpt, out, project_root, run


def catalog(params: ParamsOpt = Path("params.yaml")) -> None:
    """Write the bucket catalog from this clone's git history (for a bucket pushed before it).

    For every version tag (seeds/v*) whose objects are all in the bucket (each checked: size,
    and md5 where S3 says it), writes <prefix>/<version>/ (manifest.json, checksums.sha256,
    params.yaml, files.json) from `git show <tag>:...`, then index.json and
    latest/manifest.json. No data is uploaded or copied. A version whose objects are missing
    is skipped and named. Safe to run again: what is already there is left as it is. Run it
    in a clone that has the git history, with the MINIO_* settings.
    """
    from seedctl.config import load_params
    from seedctl.store import s3
    from seedctl.store.catalog import catalog_history
    from seedctl.store.settings import load_settings

    def go() -> None:
        root = project_root(params)
        settings = load_settings(root, load_params(params))
        published = catalog_history(root, s3.checked_client(settings), settings)
        for tag, why in published.skipped.items():
            out.print(f"skipped {tag}: {why}", soft_wrap=True, markup=False, highlight=False)
        listed = (published.index or {}).get("versions", [])
        out.print(
            f"catalog of {settings.url}: {len(published.written)} version tag(s) catalogued, "
            f"{len(published.skipped)} skipped; index.json lists {len(listed)} version(s), latest {published.latest}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )

    run(go)
