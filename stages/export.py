"""DVC stage `export`: every configured table -> seeds/data/*.parquet + seeds/schema.json."""

import sys
from pathlib import Path

from seedctl.config import load_params
from seedctl.errors import run_guarded
from seedctl.snapshot.export import run_export

if __name__ == "__main__":
    sys.exit(run_guarded(lambda: run_export(load_params("params.yaml"), Path("seeds"))))
