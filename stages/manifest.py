"""DVC stage `manifest`: seeds/manifest.json and seeds/checksums.sha256 for the export."""

import sys

from seedctl.snapshot.stages import main

if __name__ == "__main__":
    sys.exit(main("manifest"))
