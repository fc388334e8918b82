"""The stores of `storage.stores`, each on local disk and on S3-compatible object storage."""
