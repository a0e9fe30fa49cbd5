"""seedctl: versioned, checksummed Parquet snapshots of PostgreSQL tables, driven by DVC."""

__version__ = "0.1.0"
