"""The CDK's standard (acceptance) test suite, driven by acceptance-test-config.yml.

The sample bucket the configs point at is staged once per session with the project's own staging
writer (not hand-written fixture files). Docker image tests are deselected by the `image_tests`
marker in CI: there is no Docker daemon on the CI machines (see `make docker-smoke`).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_meta_capi.source import SourceMetaCapi
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.writer import StagingWriter

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUCKET = ROOT / "integration_tests" / "acceptance" / ".sample_bucket"


@pytest.fixture(scope="session", autouse=True)
def sample_bucket() -> Iterator[Path]:
    shutil.rmtree(SAMPLE_BUCKET, ignore_errors=True)
    writer = StagingWriter(
        open_store(str(SAMPLE_BUCKET)), clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1)
    )
    stage_sample(writer, ["1234567890123456", "9876543210987654"], batches_per_pixel=3, events_per_batch=10)
    yield SAMPLE_BUCKET
    shutil.rmtree(SAMPLE_BUCKET, ignore_errors=True)


@pytest.fixture(autouse=True)
def run_from_connector_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # The configs name the sample bucket relative to the connector root, as Airbyte's CAT does.
    monkeypatch.chdir(ROOT)


class TestSourceMetaCapiStandardSuite(SourceTestSuiteBase):
    connector = SourceMetaCapi
