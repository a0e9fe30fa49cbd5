"""PostgreSQL plumbing: connections, the catalog, type mapping, COPY, checksums and DDL.

Knows nothing of DVC, S3 or snapshots' files: both sides (snapshot and restore) build on it."""
