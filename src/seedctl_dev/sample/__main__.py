"""``python -m seedctl_dev.sample`` (see cli.py)."""

import sys

from seedctl_dev.sample.cli import main

sys.exit(main())
