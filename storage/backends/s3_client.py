"""The boto3 client every S3 backend uses, and how they tell a missing object from a failure."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from video_manager.config import Config


def s3_client(endpoint_url: str, region: str, access_key_id: str, secret_access_key: str) -> Any:
    """A boto3 client that sends checksums only where S3 requires them: newer SDKs sign streamed
    bodies with trailing checksums (aws-chunked), which several S3-compatible stores refuse."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=BotoConfig(
            request_checksum_calculation="when_required", response_checksum_validation="when_required"
        ),
    )


def s3_client_from_config(config: Config) -> Any:
    s3 = config.s3
    return s3_client(s3.endpoint_url, s3.region, s3.access_key_id, s3.secret_access_key)


def is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def videos_prefix(prefix: str) -> str:
    """Where videos are kept in the bucket; tus uploads are completed there, at their video's key."""
    return f"{prefix}videos/"
