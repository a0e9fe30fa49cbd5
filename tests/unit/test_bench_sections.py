"""bench/sections.py: each bench script replaces only its own section of docs/BENCHMARKS.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from sections import markers, write_section


def test_a_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    write_section(doc, "timescale", "## ts one")
    write_section(doc, "core", "# core one")
    write_section(doc, "hourly", "## hourly one")
    write_section(doc, "timescale", "## ts two\n\nmore")
    text = doc.read_text()
    assert text.index("# core one") < text.index("## ts two") < text.index("## hourly one")
    assert "ts one" not in text
    for name in ("core", "timescale", "hourly"):
        begin, end = markers(name)
        assert text.count(begin) == text.count(end) == 1


def test_rewriting_the_same_section_is_stable(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    write_section(doc, "core", "# core")
    write_section(doc, "timescale", "## ts")
    first = doc.read_text()
    write_section(doc, "core", "# core")
    write_section(doc, "timescale", "## ts")
    assert doc.read_text() == first
