"""Timing and peak RSS of one child process, measured separately for every child.

The peak RSS is the `ru_maxrss` of exactly that child (and of descendants it waited for:
for `seedctl snapshot` the largest of its `dvc` and stage processes), never a sum.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class CommandFailed(RuntimeError):
    pass


@dataclass
class Sample:
    seconds: float
    peak_rss_bytes: int


# A forked child starts with its parent's resident pages, and Linux keeps that high-water
# mark across exec: measured straight from this (large, pyarrow-importing) process, every
# child would report at least our own RSS. So each command runs under a tiny parent that
# reports the child's ru_maxrss: GNU time where installed, else a minimal interpreter
# (whose own ~10 MB then is the floor, which the report states).
_GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
_LAUNCHER = (
    "import os,sys,time\n"
    "pid=os.posix_spawn(sys.argv[2],sys.argv[2:],os.environ)\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "open(sys.argv[1],'w').write(str(ru.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def rss_method() -> str:
    if _GNU_TIME:
        return f"GNU time ({_GNU_TIME} -f %M)"
    return "a minimal Python launcher (os.wait4); its own ~10 MB is the floor of every value"


def run_measured(
    args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path | None = None
) -> Sample:
    """Run args to completion; wall time and the child's own peak RSS. Raise if it fails."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        if _GNU_TIME:
            wrapped = [_GNU_TIME, "-f", "%M", "-o", rss_file.name, *args]
        else:
            wrapped = [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _LAUNCHER,
                rss_file.name,
                shutil.which(args[0]) or args[0],
                *args[1:],
            ]
        try:
            started = time.perf_counter()
            returncode = subprocess.run(
                wrapped, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False
            ).returncode
            seconds = time.perf_counter() - started
        finally:
            if log:
                out.close()
        text = rss_file.read().strip().splitlines()
    if returncode:
        detail = ""
        if log and log.exists():
            detail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-8:])
        raise CommandFailed(f"{' '.join(map(str, args[:3]))} exited {returncode}:\n{detail}")
    return Sample(seconds, int(text[-1]) * 1024)  # KiB -> bytes


@dataclass
class Series:
    """Repeated samples of one measured path."""

    samples: list[Sample] = field(default_factory=list)
    bytes: int | None = None
    files: int | None = None  # how many files those bytes are spread over

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def seconds_min(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def seconds_max(self) -> float:
        return max(s.seconds for s in self.samples)

    @property
    def rss(self) -> int:
        return int(statistics.median(s.peak_rss_bytes for s in self.samples))

    @property
    def rss_max(self) -> int:
        return max(s.peak_rss_bytes for s in self.samples)

    def to_dict(self) -> dict[str, object]:
        return {
            "seconds": [round(s.seconds, 4) for s in self.samples],
            "peak_rss_bytes": [s.peak_rss_bytes for s in self.samples],
            "median_seconds": round(self.seconds, 4),
            "median_peak_rss_bytes": self.rss,
            "bytes": self.bytes,
        }
