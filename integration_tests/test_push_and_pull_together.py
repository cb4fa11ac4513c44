"""Push-only, pull-only and combined configurations offer (and read) the right streams."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover

from integration_tests.support.graph_stand_in import GraphStandIn
from integration_tests.support.push_harness import records, sync
from source_meta_capi.source import SourceMetaCapi
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.writer import StagingWriter

PIXEL = "1234567890"
TOKEN = "EAAB-together"
PUSH = {"delivered_events", "delivery_statuses", "dead_letters"}
PULL = {"pixels", "pixel_stats", "dataset_quality"}


@pytest.fixture
def graph():
    with GraphStandIn(access_token=TOKEN, pixels=(PIXEL,)) as stand_in:
        stand_in.add_stats(
            PIXEL,
            "event",
            [
                {
                    "start_time": f"{datetime.now(timezone.utc) - timedelta(hours=3):%Y-%m-%dT%H:00:00+0000}",
                    "data": [{"value": "Purchase", "count": 2}],
                }
            ],
        )
        stand_in.set_dataset_quality(
            PIXEL, [{"event_name": "Purchase", "event_match_quality": {"composite_score": 7.2}}]
        )
        yield stand_in


def configs(tmp_path: Path, graph: GraphStandIn) -> dict[str, dict[str, Any]]:
    bucket = tmp_path / "bucket"
    stage_sample(
        StagingWriter(open_store(str(bucket)), clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1)),
        [PIXEL],
        2,
        5,
    )
    staging = {"bucket_url": str(bucket)}
    pull = {
        "credentials": {"auth_type": "access_token", "access_token": TOKEN},
        "graph_api": {"base_url": graph.base_url, "stats_aggregations": ["event"]},
    }
    pixels = {"pixels": [{"pixel_id": PIXEL}]}
    return {
        "push": {**pixels, "staging": staging},
        "pull": {**pixels, **pull},
        "both": {**pixels, "staging": staging, **pull},
    }


@pytest.mark.parametrize(("mode", "expected"), [("push", PUSH), ("pull", PULL), ("both", PUSH | PULL)])
def test_discover_offers_only_configured_modes(tmp_path: Path, graph: GraphStandIn, mode: str, expected: set[str]):
    config = configs(tmp_path, graph)[mode]
    catalog = discover(SourceMetaCapi(config=config), config).catalog.catalog
    assert catalog is not None
    assert {stream.name for stream in catalog.streams} == expected


def test_one_sync_reads_push_and_pull_streams_together(tmp_path: Path, graph: GraphStandIn):
    config = configs(tmp_path, graph)["both"]
    output = sync(config, streams=sorted(PUSH | PULL), mode=SyncMode.incremental)
    assert not output.errors
    assert len(records(output, "delivered_events")) == 10
    assert len(records(output, "pixels")) == 1
    assert [r["count"] for r in records(output, "pixel_stats")] == [2]
    assert [r["event_name"] for r in records(output, "dataset_quality")] == ["Purchase"]
    assert {m.state.stream.stream_descriptor.name for m in output.state_messages} >= {"delivered_events", "pixel_stats"}
