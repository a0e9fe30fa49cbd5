"""DVC stage `validate`: checks -> seeds/reports/validation.json; LATEST_VERSION only on success."""

import sys
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import run_guarded
from seedctl.snapshot.history import previous_manifest
from seedctl.snapshot.validate import run_validate

if __name__ == "__main__":
    seeds = Path("seeds")
    sys.exit(run_guarded(lambda: run_validate(load_params("params.yaml"), seeds, previous=previous_manifest(seeds))))
