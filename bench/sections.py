"""docs/BENCHMARKS.md is written by several bench scripts, each owning one section of it.

bench/run.py writes the "core" section (the comparison against pg_dump / pg_restore at 91k, 1M
and 10M rows); bench/timescale.py writes "timescale"; other scripts add their own. A script
replaces only the text between its two markers, so re-running one bench keeps the others'
numbers, and every number in the file still comes from a script, never from a hand edit.
"""

from __future__ import annotations

from pathlib import Path

# The order sections take when a script writes one that the file does not have yet.
ORDER = ("core", "timescale", "incremental", "parallel", "scale")


def markers(name: str) -> tuple[str, str]:
    return f"<!-- section {name}: begin -->", f"<!-- section {name}: end -->"


def write_section(path: Path, name: str, text: str) -> None:
    """Put `text` in `path` as section `name`, replacing that section if it is there."""
    begin, end = markers(name)
    block = f"{begin}\n{text.strip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    elif name == ORDER[0]:
        new = block + ("\n" + old.lstrip("\n") if old else "")
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
