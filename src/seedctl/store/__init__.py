"""The one storage layer: the DVC remote (S3 API), the DVC cache, snapshot versions (git tags),
inventory, retention and diffs. Nothing here touches PostgreSQL."""
