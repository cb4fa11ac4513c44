"""Shared fixtures: a real S3-compatible server (moto's standalone server) on 127.0.0.1."""

from __future__ import annotations

import uuid
from typing import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region": "us-east-1"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 / Secrets Manager / SQS server on a free loopback port, stopped after the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> Iterator[str]:
    """A fresh bucket; yields an s3:// URL with a prefix."""
    name = f"capi-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    yield f"s3://{name}/staging"


def s3_staging_config(bucket_url: str, endpoint: str) -> dict[str, object]:
    return {"bucket_url": bucket_url, "endpoint_url": endpoint, **S3_CREDENTIALS}
