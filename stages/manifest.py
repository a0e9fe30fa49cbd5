"""DVC stage `manifest`: seeds/manifest.json and seeds/checksums.sha256 for the export."""

import sys
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import run_guarded
from seedctl.snapshot.manifest import run_manifest

if __name__ == "__main__":
    sys.exit(run_guarded(lambda: run_manifest(load_params("params.yaml"), Path("seeds"))))
