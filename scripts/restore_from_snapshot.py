#!/usr/bin/env python3
"""Restore a snapshot into DATABASE_URL / PG* (the plan's restore_from_snapshot.py).

    python scripts/restore_from_snapshot.py [--source minio|local] [--version latest|X]
                                            [--path PROJECT] [--mode safe|replace|append|missing]

--version latest restores the checked-out snapshot; X restores git tag seeds/vX (or any
git revision X) without touching the work tree. --source local never contacts the remote.
With --source minio where PROJECT has no git history (no .git: a container, a copy), the
version (latest, or a version of the bucket's catalog) comes from the bucket alone, as
`seedctl restore --from-bucket --version X` (no post-restore hook: there is no checkout).
"""

import argparse
import sys
from pathlib import Path

from seedctl.errors import run_guarded
from seedctl.restore import MODES
from seedctl.restore.acquire import raise_if_degraded
from seedctl.restore.run import restore_from_bucket, restore_snapshot
from seedctl.store.bucket import has_git_history
from seedctl.store.versions import snapshot_revision


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("minio", "local"), default="minio")
    parser.add_argument("--version", default="latest", help="latest, a version tag suffix, or a git revision")
    parser.add_argument("--path", type=Path, default=Path("."), help="project root")
    parser.add_argument("--mode", choices=MODES, default="safe")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    def go() -> None:
        if args.source == "minio" and not has_git_history(args.path):
            print("no git history here: restoring from the bucket's catalog")
            report = restore_from_bucket(args.path, args.version, mode=args.mode, dry_run=args.dry_run)
        else:
            rev = snapshot_revision(args.path, args.version)
            report = restore_snapshot(
                args.path, mode=args.mode, dry_run=args.dry_run, rev=rev, pull=args.source == "minio"
            )
        manifest, results = report.manifest, report.tables
        for r in results:
            print(f"{r.data.table.qualified}: {r.action} from {r.data.origin}, {r.loaded_rows} rows, {r.verified}")
        print(f"snapshot {manifest['version']} {'planned' if args.dry_run else 'restored'}")
        if not args.dry_run:
            raise_if_degraded(results)  # exit 11: committed, optional tables left empty

    return run_guarded(go)


if __name__ == "__main__":
    sys.exit(main())
