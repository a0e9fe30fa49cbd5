"""DVC stage `validate`: checks -> seeds/reports/validation.json; LATEST_VERSION only on success."""

import sys
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import run_guarded
from seedctl.validate import previous_manifest, run_validate

if __name__ == "__main__":
    seeds = Path("seeds")
    sys.exit(
        run_guarded(
            lambda: run_validate(load_params("params.yaml"), seeds, previous=previous_manifest(seeds))
        )
    )
