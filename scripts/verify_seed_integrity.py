#!/usr/bin/env python3
"""Check seed files against their manifest (the plan's verify_seed_integrity.py).

python scripts/verify_seed_integrity.py [--path SEEDS_DIR] [--db]
"""

import argparse
import sys
from pathlib import Path

from seedctl.errors import IntegrityError, run_guarded
from seedctl.restore.verify import compare_database, verify_snapshot_files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("seeds"), help="the seeds directory")
    parser.add_argument("--db", action="store_true", help="also compare DATABASE_URL with the snapshot")
    args = parser.parse_args()

    def go() -> None:
        manifest = verify_snapshot_files(args.path)
        print(f"snapshot {manifest['version']}: {len(manifest['tables'])} files match the manifest")
        if args.db:
            differ = [r.table for r in compare_database(manifest) if not r.equal]
            if differ:
                raise IntegrityError(f"database differs from the snapshot in: {', '.join(differ)}")
            print("database matches the snapshot")

    return run_guarded(go)


if __name__ == "__main__":
    sys.exit(main())
