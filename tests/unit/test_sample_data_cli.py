"""`seedctl sample-data` in an install without seedctl_dev (a wheel: dev tooling is not in it)."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from seedctl.cli.app import app


def test_without_dev_tooling_it_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "seedctl_dev", None)  # what `import seedctl_dev` finds in a wheel install
    result = CliRunner().invoke(app, ["sample-data", "--scale", "0.01"])
    assert result.exit_code == 2, result.output
    assert (
        "seedctl: error: sample-data is development tooling -- run it from a checkout after `make setup`"
    ) in result.output
