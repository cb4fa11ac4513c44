"""moto's standalone server (S3, SQS, Secrets Manager, Glue) on 127.0.0.1, and bucket helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region": "us-east-1"}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL and stops it afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client on the test server (or a proxy of it), with the server's credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
        region_name=S3_CREDENTIALS["region"],
    )


def receiver_s3_env(endpoint: str) -> dict[str, str]:
    """The receiver's environment variables for staging on the S3 at `endpoint` (the test server or a proxy of it)."""
    return {
        "META_CAPI_S3_ENDPOINT_URL": endpoint,
        "META_CAPI_S3_REGION": S3_CREDENTIALS["region"],
        "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
    }


def new_bucket(endpoint: str) -> str:
    """Create a fresh bucket; an s3:// URL with a prefix inside it."""
    name = f"capi-{uuid.uuid4().hex[:12]}"
    client = s3_client(endpoint)
    client.create_bucket(Bucket=name)
    return f"s3://{name}/staging"


def s3_staging_config(bucket_url: str, endpoint: str) -> dict[str, object]:
    """The source's `staging` config for a bucket on the test server."""
    return {"bucket_url": bucket_url, "endpoint_url": endpoint, **S3_CREDENTIALS}
