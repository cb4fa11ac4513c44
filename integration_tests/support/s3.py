"""moto's standalone server (S3, SQS, Secrets Manager, Glue) on 127.0.0.1, and bucket helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

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


def new_bucket(endpoint: str) -> str:
    """Create a fresh bucket; an s3:// URL with a prefix inside it."""
    name = f"capi-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
        region_name=S3_CREDENTIALS["region"],
    )
    client.create_bucket(Bucket=name)
    return f"s3://{name}/staging"


def s3_staging_config(bucket_url: str, endpoint: str) -> dict[str, object]:
    """The source's `staging` config for a bucket on the test server."""
    return {"bucket_url": bucket_url, "endpoint_url": endpoint, **S3_CREDENTIALS}
