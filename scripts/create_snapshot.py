#!/usr/bin/env python3
"""Take a snapshot (the plan's create_snapshot.py): `seedctl snapshot`, the same pipeline, push, commit and tag.

python scripts/create_snapshot.py [--path PROJECT] [--no-push] [--allow-shrink]
"""

import argparse
import sys
from pathlib import Path

from seedctl.errors import run_guarded
from seedctl.snapshot.pipeline import run_snapshot


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("."), help="project root (params.yaml)")
    parser.add_argument("--no-push", action="store_true", help="stop after validation")
    parser.add_argument(
        "--allow-shrink",
        action="store_true",
        help="accept lost history for this snapshot only (as seedctl snapshot --allow-shrink)",
    )
    args = parser.parse_args()
    params = args.path / "params.yaml"

    def go() -> None:
        # As `seedctl snapshot [--no-push]`: without a push there is no commit or tag either
        # (a tag never names data the remote lacks).
        outcome = run_snapshot(params, push=not args.no_push, commit=not args.no_push, allow_shrink=args.allow_shrink)
        if outcome.pushed:
            print(outcome.pushed)

    return run_guarded(go)


if __name__ == "__main__":
    sys.exit(main())
