#!/usr/bin/env python3
"""New-server seeder (the plan's data-seeder): fill empty tables from the latest snapshot.

Waits for the database, then restores the checked-out snapshot into tables that are
absent or empty and leaves every other table alone, exactly as `seedctl restore --mode
missing`: missing extensions, types and sequences are created, and the sequences of the
tables it fills continue after the restored ids, also when an earlier init script created
the schema. Idempotent: a second run changes nothing, says so, and exits 0. Where PROJECT
has no git history (no .git: a container without the checkout's history), the latest
version comes from the bucket's catalog alone (`seedctl restore --from-bucket --mode missing`).

    python scripts/init/04-seed-from-minio.py [--path PROJECT] [--wait SECONDS] [--source minio|local]
"""

import argparse
import sys
from pathlib import Path

from seedctl.errors import run_guarded
from seedctl.pg.db import wait_for_database
from seedctl.restore.acquire import raise_if_degraded
from seedctl.restore.run import restore_from_bucket, restore_snapshot
from seedctl.store.bucket import has_git_history


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("."), help="project root")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the database")
    parser.add_argument("--source", choices=("minio", "local"), default="minio")
    args = parser.parse_args()

    def go() -> None:
        wait_for_database(args.wait)
        if args.source == "minio" and not has_git_history(args.path):
            print("no git history here: seeding from the bucket's catalog")
            report = restore_from_bucket(args.path, "latest", mode="missing")
        else:
            report = restore_snapshot(args.path, mode="missing", pull=args.source == "minio")
        manifest, results = report.manifest, report.tables
        seeded = [r for r in results if r.action != "keep"]
        for r in results:
            what = (
                "already has data, left alone"
                if r.action == "keep"
                else f"seeded {r.loaded_rows} rows ({r.data.origin})"
            )
            print(f"{r.data.table.qualified}: {what}")
            for note in r.data.notes + r.notes:  # e.g. the types and extensions it created
                print(f"  {note}")
        if not seeded:
            print(f"nothing to do: every table already holds data (snapshot {manifest['version']})")
        else:
            print(f"seeded {len(seeded)} table(s) from snapshot {manifest['version']}")
        raise_if_degraded(results)  # exit 11: committed, optional tables left empty

    return run_guarded(go)


if __name__ == "__main__":
    sys.exit(main())
