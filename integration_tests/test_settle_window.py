"""Objects too recent to read (the settle window) are reported: how many, and when they become readable."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from airbyte_cdk.models import SyncMode

from integration_tests.support.push_harness import final_state, records, sync
from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.push import streams as push_streams
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.sample_data import sample_event
from source_meta_capi.staging.writer import StagingWriter

PIXEL = "1234567890"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["local", "s3"])
def staging(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, Any]]:
    if request.param == "local":
        (tmp_path / "bucket").mkdir()
        yield {"bucket_url": str(tmp_path / "bucket")}
    else:
        yield s3_staging_config(request.getfixturevalue("s3_bucket"), request.getfixturevalue("moto_endpoint"))


@pytest.fixture(autouse=True)
def frozen_sync_clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    current = {"now": NOW}
    monkeypatch.setattr(push_streams, "utc_now", lambda: current["now"])
    return current


def _stage(staging: dict[str, Any], arrival: datetime, index: int) -> None:
    store = open_store(staging["bucket_url"], s3_options_from_mapping(staging))
    event = sample_event(random.Random(index), PIXEL, int(arrival.timestamp()), index)
    StagingWriter(store, clock=lambda: arrival).stage(ObjectKind.EVENTS, PIXEL, [event])


def _summary(output) -> dict[str, Any]:
    line = next(m.log.message for m in output.logs if m.log and '"sync_summary"' in m.log.message)
    return json.loads(line)


def test_given_objects_within_the_settle_window_when_synced_then_the_summary_says_how_many_and_until_when(
    staging: dict[str, Any], frozen_sync_clock: dict[str, datetime]
):
    _stage(staging, NOW - timedelta(hours=1), 0)
    _stage(staging, NOW - timedelta(seconds=90), 1)
    _stage(staging, NOW - timedelta(seconds=30), 2)
    config = {"pixels": [{"pixel_id": PIXEL}], "staging": {**staging, "settle_seconds": 120}}

    first = sync(config, streams=["delivered_events"])

    assert len(records(first, "delivered_events")) == 1
    window = _summary(first)["settle_window"]
    assert window["objects_held"] == 2
    assert window["first_readable_at"] == "2026-11-26T12:00:30.000000Z"
    assert window["all_readable_at"] == "2026-11-26T12:01:30.000000Z"
    (held,) = window["held"]
    assert held == {
        "stream": "delivered_events",
        "pixel_id": PIXEL,
        "objects": 2,
        "settle_seconds": 120,
        "first_readable_at": "2026-11-26T12:00:30.000000Z",
        "all_readable_at": "2026-11-26T12:01:30.000000Z",
    }
    assert _summary(first)["streams"]["delivered_events"]["objects_held"] == 2
    notices = [m.log.message for m in first.logs if m.log and "objects_held_for_settle_window" in m.log.message]
    (notice,) = notices
    assert "2 delivered_events object(s) of pixel 1234567890" in notice and "staging.settle_seconds" in notice

    # Two minutes later the held objects are read, and nothing is reported held any more.
    frozen_sync_clock["now"] = NOW + timedelta(minutes=2)
    second = sync(config, streams=["delivered_events"], state=final_state(first))
    assert len(records(second, "delivered_events")) == 2
    assert _summary(second)["settle_window"] is None


def test_given_a_full_refresh_when_synced_then_nothing_is_held(staging: dict[str, Any]):
    _stage(staging, NOW - timedelta(seconds=30), 0)
    config = {"pixels": [{"pixel_id": PIXEL}], "staging": {**staging, "settle_seconds": 120}}
    output = sync(config, streams=["delivered_events"], mode=SyncMode.full_refresh)
    assert len(records(output, "delivered_events")) == 1
    assert _summary(output)["settle_window"] is None
