"""The CDK's standard (acceptance) test suite, driven by acceptance-test-config.yml, plus the
`incremental` section the CDK does not collect.

Every config reads the committed sample bucket integration_tests/sample_bucket/ (written by
`make sample-bucket` with the project's own staging writer), by a path relative to the repo
root, as `airbyte-cdk connector test` runs from there. Docker image tests are deselected by the
`image_tests` marker: there is no Docker daemon on the CI machines (see `make docker-smoke`).
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
)
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from scripts.make_sample_bucket import SAMPLE_BUCKET, write_sample_bucket
from source_meta_capi.source import SourceMetaCapi

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE = yaml.safe_load((ROOT / "acceptance-test-config.yml").read_text())["acceptance_tests"]
(INCREMENTAL,) = ACCEPTANCE["incremental"]["tests"]


@pytest.fixture(autouse=True)
def run_from_connector_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # The configs name the sample bucket relative to the connector root, as Airbyte's tools do.
    monkeypatch.chdir(ROOT)


class TestSourceMetaCapiStandardSuite(SourceTestSuiteBase):
    connector = SourceMetaCapi


def test_the_committed_sample_bucket_is_what_the_generator_writes(tmp_path: Path):
    write_sample_bucket(tmp_path / "bucket")
    committed = sorted(p.relative_to(SAMPLE_BUCKET) for p in SAMPLE_BUCKET.rglob("*") if p.is_file())
    generated = sorted(p.relative_to(tmp_path / "bucket") for p in (tmp_path / "bucket").rglob("*") if p.is_file())
    assert committed == generated, "run `make sample-bucket` and commit integration_tests/sample_bucket/"
    _, mismatch, errors = filecmp.cmpfiles(
        SAMPLE_BUCKET, tmp_path / "bucket", [str(p) for p in committed], shallow=False
    )
    assert mismatch == errors == []
    assert sum(p.stat().st_size for p in SAMPLE_BUCKET.rglob("*") if p.is_file()) < 16_000


# ---- the `incremental` section (CAT's TestIncremental, which the CDK's suite does not run) ------
def _incremental_read(state: list[AirbyteStateMessage] | None) -> EntrypointOutput:
    config = json.loads((ROOT / INCREMENTAL["config_path"]).read_text())
    catalog: ConfiguredAirbyteCatalog = ConfiguredAirbyteCatalogSerializer.load(
        json.loads((ROOT / INCREMENTAL["configured_catalog_path"]).read_text())
    )
    return read(SourceMetaCapi(config=config, catalog=catalog, state=state), config, catalog, state)


def _record_counts(output: EntrypointOutput) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in output.records:
        assert message.record is not None
        counts[message.record.stream] = counts.get(message.record.stream, 0) + 1
    return counts


def _final_states(output: EntrypointOutput) -> list[AirbyteStateMessage]:
    latest: dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        assert message.state is not None and message.state.stream is not None
        latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())


def test_incremental_two_sequential_reads_the_second_reads_nothing_new():
    first = _incremental_read(None)
    assert _record_counts(first) == {"delivered_events": 20, "delivery_statuses": 4, "dead_letters": 2}
    states = _final_states(first)
    assert {s.stream.stream_descriptor.name for s in states if s.stream} == {
        "delivered_events",
        "delivery_statuses",
        "dead_letters",
    }
    second = _incremental_read(states)
    assert _record_counts(second) == {}


def test_incremental_read_from_the_future_state_reads_nothing_and_keeps_the_state():
    raw: list[dict[str, Any]] = json.loads((ROOT / INCREMENTAL["future_state"]["future_state_path"]).read_text())
    future = [AirbyteStateMessageSerializer.load(message) for message in raw]
    output = _incremental_read(future)
    assert _record_counts(output) == {}
    for state in _final_states(output):
        assert state.stream is not None and state.stream.stream_state is not None
        for entry in state.stream.stream_state.pixels.values():  # type: ignore[attr-defined]
            assert "2099-12-31" in entry["last_key"]
