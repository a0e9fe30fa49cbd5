"""seedctl: versioned, checksummed Parquet snapshots of PostgreSQL tables, driven by DVC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "open_snapshot"]

if TYPE_CHECKING:
    from seedctl.read.reader import open_snapshot


def __getattr__(name: str) -> Any:
    # `import seedctl` stays light (the CLI and the stages import it): the reader, pyarrow
    # and DVC load only when open_snapshot is first used.
    if name == "open_snapshot":
        from seedctl.read.reader import open_snapshot

        return open_snapshot
    raise AttributeError(f"module 'seedctl' has no attribute {name!r}")
