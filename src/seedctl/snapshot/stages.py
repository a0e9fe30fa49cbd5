"""The pipeline's three stages (dvc.yaml): what each stage's command runs, in one place.

`dvc repro` runs them as `python stages/<name>.py` (main below), each in its own process;
`seedctl snapshot` runs the same functions in its own process (pipeline.py), DVC deciding
which ran and recording them in dvc.lock either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from seedctl.config import Params, load_params
from seedctl.errors import run_guarded
from seedctl.snapshot.history import ALLOW_SHRINK_ENV


def export(params: Params, seeds: Path, accepted_by: str | None) -> None:
    import sys

    from seedctl.snapshot.export import run_export

    result = run_export(params, seeds)
    named = [item for t in result.tables if t.table.objects for item in t.table.objects.not_carried]
    for item in dict.fromkeys(named):  # recorded by name in schema.json; a restore says it again
        print(f"seedctl: not carried: {item}", file=sys.stderr, flush=True)
    for exported in result.tables:
        if exported.reused:  # what this snapshot cost: the files it read again, the ones it kept
            print(
                f"seedctl: export {exported.source}: {len(exported.parts) - exported.reused} of "
                f"{len(exported.parts)} {exported.partition} files exported, {exported.reused} proven unchanged "
                "and reused from the previous snapshot",
                file=sys.stderr,
                flush=True,
            )
        hyper = exported.table.hypertable
        if hyper and hyper.not_carried:  # recorded by name in schema.json; a restore says it again
            print(
                f"seedctl: hypertable {exported.table.qualified}: not carried by the snapshot (recreate by hand "
                f"after a restore): {', '.join(hyper.not_carried)}",
                file=sys.stderr,
                flush=True,
            )


def manifest(params: Params, seeds: Path, accepted_by: str | None) -> None:
    from seedctl.snapshot.manifest import run_manifest

    run_manifest(params, seeds, accepted_by=accepted_by)


def validate(params: Params, seeds: Path, accepted_by: str | None) -> None:
    from seedctl.snapshot.history import previous_manifest
    from seedctl.snapshot.validate import run_validate

    run_validate(params, seeds, previous=previous_manifest(seeds))


# In dvc.yaml's order; each stage's `cmd` is `python stages/<name>.py`.
STAGES: dict[str, Callable[[Params, Path, str | None], None]] = {
    "export": export,
    "manifest": manifest,
    "validate": validate,
}


def shrink_accepted_by() -> str | None:
    """Who accepts lost history for this run, from SEEDCTL_ALLOW_SHRINK (history.py)."""
    return os.environ.get(ALLOW_SHRINK_ENV, "").strip() or None


def main(name: str) -> int:
    """stages/<name>.py under `dvc repro`: run from the project root, as DVC does."""
    return run_guarded(lambda: STAGES[name](load_params("params.yaml"), Path("seeds"), shrink_accepted_by()))
