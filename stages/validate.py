"""DVC stage `validate`: checks -> seeds/reports/validation.json; LATEST_VERSION only on success."""

import sys

from seedctl.snapshot.stages import main

if __name__ == "__main__":
    sys.exit(main("validate"))
