"""copyout.CopyStream: pyarrow's CSV reader reads COPY's bytes at most AHEAD_BLOCKS blocks
ahead of the batches taken from it (its own background reader would queue 32)."""

from __future__ import annotations

import io
import threading
import time

import pyarrow.csv as pa_csv
import pytest

from seedctl.pg import copyout

ROWS = 20_000
BLOCK = 4096  # ~60 rows a block: ~300 blocks


def _consume_slowly(stream: copyout.CopyStream) -> tuple[int, int]:
    """(rows, the most blocks read ahead of the batches taken) for a consumer slower than the reader."""
    reader = pa_csv.open_csv(
        stream.file,
        read_options=pa_csv.ReadOptions(column_names=["a", "b"], block_size=BLOCK),
    )
    rows = most_ahead = 0
    for batch in reader:
        stream.taken()
        rows += batch.num_rows
        time.sleep(0.0005)  # the Parquet writer: slower than the server's COPY
        most_ahead = max(most_ahead, stream._read - stream._taken)
    return rows, most_ahead


def _csv() -> io.BytesIO:
    return io.BytesIO("".join(f"{i},value {i:08d} of a row\n" for i in range(ROWS)).encode())


def test_the_reader_stays_a_few_blocks_ahead() -> None:
    rows, most_ahead = _consume_slowly(copyout.CopyStream(_csv()))
    assert rows == ROWS
    assert most_ahead <= copyout.AHEAD_BLOCKS


def test_unbounded_it_would_run_far_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound above is what holds the reader back (pyarrow's own queue is 32 blocks)."""
    monkeypatch.setattr(copyout, "AHEAD_BLOCKS", 10_000)
    rows, most_ahead = _consume_slowly(copyout.CopyStream(_csv()))
    assert rows == ROWS
    assert most_ahead > 2 * 4


def test_closing_releases_a_waiting_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read waiting for room (the export stopped taking batches: an error, Ctrl-C) returns
    as soon as the stream closes, not after its wait."""
    monkeypatch.setattr(copyout, "_AHEAD_WAIT_S", 3600.0)
    stream = copyout.CopyStream(_csv())
    for _ in range(copyout.AHEAD_BLOCKS):
        stream.read(BLOCK)
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(stream.read(BLOCK))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    waiting = threading.Thread(target=read, daemon=True)
    waiting.start()
    stream.close()
    waiting.join(timeout=60)  # a guard against a hang, not a measurement
    assert not waiting.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ValueError)  # the closed file, read at once
