"""DVC stage `export`: every configured table -> seeds/data/*.parquet + seeds/schema.json."""

import sys

from seedctl.snapshot.stages import main

if __name__ == "__main__":
    sys.exit(main("export"))
