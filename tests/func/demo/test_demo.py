"""`make demo` stops every server it started, even when it is stopped half-way."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from seedctl.signals import descendants


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_demo_stopped_half_way_stops_its_servers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from seedctl_dev.demo import main; main(Path(sys.argv[1]))",
            str(tmp_path / "demo"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "DVC_NO_ANALYTICS": "1"},
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("demo: 1. snapshot"):
                break
        started = re.search(
            r"on ([\d.]+):(\d+); S3 API server \(moto_server\) on (?:http://)?([\d.]+):(\d+)", "".join(lines)
        )
        assert started, "".join(lines)
        pg, s3 = (started[1], int(started[2])), (started[3], int(started[4]))
        assert _listening(*pg) and _listening(*s3)
        time.sleep(0.5)  # `seedctl snapshot` is under way
        children = descendants(proc.pid)
        assert children
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # the test failed early: let the demo stop its servers first
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    assert proc.returncode != 0
    assert "demo: interrupted; PostgreSQL and the S3 server stopped" in err
    assert not _listening(*pg) and not _listening(*s3)
    left = [
        p
        for p in children
        if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    ]
    assert not left, f"processes the demo started still run: {left}"
