"""Object storage: one interface (base), a folder on disk (local), S3/COS over HTTP (s3)."""
