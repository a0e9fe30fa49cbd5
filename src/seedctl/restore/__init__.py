"""The restore side: resolve the revision, acquire the files, load them all or nothing, verify, hook."""
