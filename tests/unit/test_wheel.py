"""The product wheel holds seedctl and every one of its subpackages, and none of the dev tooling."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_has_the_product_and_no_dev_tooling(tmp_path: Path) -> None:
    # Built from a copy: the build's own scratch files (build/, *.egg-info) stay out of the checkout.
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", source)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("seedctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {str(p.parent.relative_to(REPO / "src")) for p in (REPO / "src" / "seedctl").rglob("__init__.py")}
    assert {str(Path(n).parent) for n in names if n.endswith("/__init__.py")} == packages
    assert not [n for n in names if n.startswith("seedctl_dev")]
