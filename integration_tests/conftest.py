"""Shared fixtures: a real S3-compatible server (moto's standalone server) on 127.0.0.1."""

from __future__ import annotations

from typing import Iterator

import pytest

from integration_tests.support.s3 import moto_server, new_bucket


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 / Secrets Manager / SQS / Glue server on a free loopback port, stopped after the session."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A fresh bucket; an s3:// URL with a prefix."""
    return new_bucket(moto_endpoint)
