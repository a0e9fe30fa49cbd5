"""The manifest and validate stages never connect to PostgreSQL: each is its own process under
`dvc repro`, so they must not pay psycopg's (or the export's, or rich's) import at start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("psycopg", "rich", "seedctl.snapshot.export", "seedctl.pg.catalog", "dvc")


@pytest.mark.parametrize("stage", ["manifest", "validate"])
def test_stage_imports_nothing_it_does_not_use(stage: str) -> None:
    # What stages/<stage>.py imports, in a fresh interpreter (this one has imported everything).
    code = (
        "import sys, seedctl.config, seedctl.errors, seedctl.snapshot.history, seedctl.snapshot." + stage + "; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
