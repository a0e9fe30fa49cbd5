"""The restore side: resolve the revision, acquire the files, load them all or nothing, verify, hook."""

from typing import Literal, get_args

# The restore modes (plan.py decides what each does), here where the CLI can check a --mode
# without importing psycopg.
Mode = Literal["safe", "replace", "append", "missing"]
MODES: tuple[Mode, ...] = get_args(Mode)
