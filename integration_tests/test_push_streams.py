"""The push streams through the real CDK entrypoint, on the local folder store and on a real
S3-compatible server (moto) on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from airbyte_cdk.models import FailureType, Status, SyncMode

from integration_tests.support.push_harness import final_state, identities, records, sync
from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.push import streams as push_streams
from source_meta_capi.source import SourceMetaCapi
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.sample_data import sample_event, stage_sample
from source_meta_capi.staging.store import ObjectStore
from source_meta_capi.staging.writer import StagingWriter

PIXEL = "1234567890"
OTHER = "2222222222"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


class Bucket:
    """A staging area plus the source config pointing at it."""

    def __init__(self, staging: dict[str, Any]) -> None:
        self.staging = staging
        self.store: ObjectStore = open_store(staging["bucket_url"], s3_options_from_mapping(staging))

    def config(self, **staging_overrides: Any) -> dict[str, Any]:
        return {
            "pixels": [{"pixel_id": PIXEL, "ad_account_id": "act_99"}, {"pixel_id": OTHER}],
            "staging": {**self.staging, "settle_seconds": 120, **staging_overrides},
        }

    def writer(self, clock: Callable[[], datetime], writer_id: str = "w") -> StagingWriter:
        return StagingWriter(self.store, writer_id=writer_id, clock=clock)


@pytest.fixture(params=["local", "s3"])
def bucket(request: pytest.FixtureRequest, tmp_path) -> Iterator[Bucket]:
    if request.param == "local":
        yield Bucket({"bucket_url": (tmp_path / "bucket").as_uri()})
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        yield Bucket(s3_staging_config(request.getfixturevalue("s3_bucket"), endpoint))


@pytest.fixture(autouse=True)
def frozen_sync_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    current = {"now": NOW}
    monkeypatch.setattr(push_streams, "utc_now", lambda: current["now"])

    def set_now(moment: datetime) -> None:
        current["now"] = moment

    return set_now


def test_full_refresh_reads_every_stream_with_envelope(bucket: Bucket):
    summary = stage_sample(
        bucket.writer(lambda: NOW - timedelta(hours=1)), [PIXEL, OTHER], batches_per_pixel=3, events_per_batch=10
    )
    output = sync(bucket.config(), mode=SyncMode.full_refresh)
    events = records(output, "delivered_events")
    assert len(events) == summary.events == 60
    assert len(records(output, "delivery_statuses")) == summary.statuses
    assert len(records(output, "dead_letters")) == summary.dead_letters
    first = next(e for e in events if e["pixel_id"] == PIXEL)
    assert first["ad_account_id"] == "act_99"
    assert first["received_at"].endswith("Z") and first["schema_version"] == 2
    assert first["_staged_object"].startswith(f"events/pixel_id={PIXEL}/")


def test_incremental_syncs_pick_up_only_new_objects_and_state_stays_small(bucket: Bucket, frozen_sync_clock):
    writer = bucket.writer(lambda: NOW - timedelta(hours=2))
    stage_sample(writer, [PIXEL], batches_per_pixel=2, events_per_batch=5)
    first = sync(bucket.config())
    assert len(records(first, "delivered_events")) == 10
    state = final_state(first)
    assert len(json.dumps([s.stream.stream_state.__dict__ for s in state])) < 2000  # type: ignore[union-attr]

    again = sync(bucket.config(), state=state)
    assert records(again, "delivered_events") == []

    later = bucket.writer(lambda: NOW + timedelta(minutes=30), writer_id="w2")
    stage_sample(later, [PIXEL], batches_per_pixel=20, events_per_batch=5, seed=3)
    frozen_sync_clock(NOW + timedelta(hours=1))
    third = sync(bucket.config(), state=final_state(again))
    assert len(records(third, "delivered_events")) == 100
    big_state = json.dumps([s.stream.stream_state.__dict__ for s in final_state(third)])  # type: ignore[union-attr]
    small_state = json.dumps([s.stream.stream_state.__dict__ for s in state])  # type: ignore[union-attr]
    # One entry per pixel and stream, however many objects were read.
    assert abs(len(big_state) - len(small_state)) < 50


def test_objects_younger_than_settle_time_wait_for_the_next_sync(bucket: Bucket, frozen_sync_clock):
    bucket.writer(lambda: NOW - timedelta(seconds=30)).stage(
        ObjectKind.EVENTS, PIXEL, [sample_event(random.Random(1), PIXEL, 1, 0)]
    )
    first = sync(bucket.config())
    assert records(first, "delivered_events") == []
    frozen_sync_clock(NOW + timedelta(minutes=5))
    second = sync(bucket.config(), state=final_state(first))
    assert len(records(second, "delivered_events")) == 1


def test_given_concurrent_out_of_order_writers_when_syncing_repeatedly_then_union_is_exactly_what_was_committed(
    bucket: Bucket, frozen_sync_clock
):
    """Writers with skewed clocks commit late (within their deadline) while the source syncs.

    A deterministic simulation: every writer stamps on its own skewed clock, commits up to the
    commit deadline later, and the source syncs every few seconds with settle = deadline + skew.
    """
    rng = random.Random(11)
    deadline, max_skew = 30.0, 20.0
    settle = int(deadline + max_skew) + 1
    simulated: list[tuple[float, str, Any]] = []
    sent: set[tuple[str, str, int]] = set()
    for number in range(60):
        start = rng.uniform(0, 300)
        skew = rng.uniform(-max_skew, max_skew)
        delay = rng.uniform(0, deadline)
        pixel = rng.choice([PIXEL, OTHER])
        event = sample_event(rng, pixel, 1_764_000_000 + number, number)
        event["event_id"] = f"ev-{number}"
        simulated.append((start, "plan", (number, skew, pixel)))
        simulated.append((start + delay, "commit", (number, event)))
        sent.add((pixel, event["event_id"], event["event_time"]))
    for tick in range(0, 420, 7):
        simulated.append((float(tick), "sync", None))
    simulated.sort(key=lambda item: item[0])

    planned: dict[int, Any] = {}
    writers: dict[int, StagingWriter] = {}
    state = None
    emitted: list[tuple[str, str, int]] = []
    for at, action, payload in simulated:
        real = NOW + timedelta(seconds=at)
        if action == "plan":
            number, skew, pixel = payload
            writer = StagingWriter(
                bucket.store, writer_id=f"w{number}", clock=lambda r=real, s=skew: r + timedelta(seconds=s)
            )
            writers[number] = writer
            planned[number] = writer.plan(ObjectKind.EVENTS, pixel)
        elif action == "commit":
            number, event = payload
            writers[number].commit(planned[number], [event])
        else:
            frozen_sync_clock(real)
            output = sync(bucket.config(settle_seconds=settle), streams=["delivered_events"], state=state)
            emitted.extend(identities(output).elements())
            state = final_state(output) or state
    frozen_sync_clock(NOW + timedelta(hours=2))
    output = sync(bucket.config(settle_seconds=settle), streams=["delivered_events"], state=state)
    emitted.extend(identities(output).elements())
    assert sorted(emitted) == sorted(sent), "every committed event exactly once across syncs"


def test_repeated_event_in_two_objects_is_emitted_once_per_sync(bucket: Bucket):
    event = sample_event(random.Random(2), PIXEL, 1_764_000_000, 0)
    writer = bucket.writer(lambda: NOW - timedelta(hours=1))
    writer.stage(ObjectKind.EVENTS, PIXEL, [event])
    writer.stage(ObjectKind.EVENTS, PIXEL, [event, {**event, "event_id": "other"}])
    output = sync(bucket.config())
    assert sorted(identities(output).values()) == [1, 1]
    assert '"repeats_dropped": 1' in " ".join(m.log.message for m in output.logs if m.log)


def test_event_types_filter_and_custom_data_properties_join_the_schema(bucket: Bucket):
    stage_sample(bucket.writer(lambda: NOW - timedelta(hours=1)), [PIXEL], batches_per_pixel=2, events_per_batch=30)
    config = bucket.config()
    config["pixels"][0]["event_types"] = ["Purchase", "AddToCart"]
    config["pixels"][0]["custom_data_properties"] = {"coupon_code": "string"}
    output = sync(config, streams=["delivered_events"])
    names = {r["event_name"] for r in records(output, "delivered_events")}
    assert names and names <= {"Purchase", "AddToCart"}
    from airbyte_cdk.test.entrypoint_wrapper import discover

    catalog = discover(SourceMetaCapi(config=config), config).catalog.catalog
    assert catalog is not None
    events = next(s for s in catalog.streams if s.name == "delivered_events")
    assert events.json_schema["properties"]["custom_data"]["properties"]["coupon_code"] == {"type": ["null", "string"]}
    assert events.source_defined_primary_key == [["pixel_id"], ["event_id"], ["event_time"]]
    assert events.default_cursor_field == ["received_at"]


def _stage_raw(store: ObjectStore, body: bytes, arrival: str = "20261126T100000000000Z") -> str:
    key = f"events/pixel_id={PIXEL}/date=2026-11-26/hour=10/{arrival}-zz-0000000000000000.jsonl.gz"
    store.put_if_absent(key, body)
    return key


def test_given_corrupt_object_when_policy_fail_then_config_error_names_key_and_line(bucket: Bucket):
    good = json.dumps(sample_event(random.Random(3), PIXEL, 1, 0) | {"received_at": "2026-11-26T10:00:00.000000Z"})
    key = _stage_raw(bucket.store, gzip.compress(f"{good}\n{{broken\n".encode()))
    output = sync(bucket.config(), streams=["delivered_events"], expect_failure=True)
    error = output.errors[0].trace.error  # type: ignore[union-attr]
    assert error.failure_type == FailureType.config_error
    assert key in error.message and "line 2" in error.message and "on_corrupt_object" in error.message


def test_given_corrupt_data_when_policy_warn_then_good_lines_synced_and_corruption_counted(bucket: Bucket):
    good = json.dumps(sample_event(random.Random(3), PIXEL, 1, 0) | {"received_at": "2026-11-26T10:00:00.000000Z"})
    wrong_type = json.dumps(sample_event(random.Random(4), PIXEL, 1, 1) | {"event_time": "yesterday"})
    _stage_raw(bucket.store, gzip.compress(f"{good}\n{{broken\n{wrong_type}\n".encode()))
    _stage_raw(bucket.store, b"not gzip at all", arrival="20261126T100001000000Z")
    output = sync(bucket.config(on_corrupt_object="warn"), streams=["delivered_events"])
    assert len(records(output, "delivered_events")) == 1
    logs = " ".join(m.log.message for m in output.logs if m.log)
    assert '"corrupt": 3' in logs
    assert "field event_time has JSON type str" in logs and "not a valid gzip stream" in logs


def test_drift_alarm_counts_and_logs_with_ids_and_can_fail_the_sync(bucket: Bucket):
    event = sample_event(random.Random(5), PIXEL, 1_764_000_000, 0)
    event["user_data"] = {}
    del event["action_source"]
    bucket.writer(lambda: NOW - timedelta(hours=1)).stage(ObjectKind.EVENTS, PIXEL, [event])
    output = sync(bucket.config(), streams=["delivered_events"])
    assert len(records(output, "delivered_events")) == 1
    errors = [m.log.message for m in output.logs if m.log and m.log.level.value == "ERROR"]
    assert any('"schema_drift"' in e and PIXEL in e and event["event_id"] in e for e in errors)
    summary = next(m.log.message for m in output.logs if m.log and "sync_summary" in m.log.message)
    assert '"missing": "action_source"' in summary and '"missing": "user_data match keys"' in summary
    failed = sync(bucket.config(on_schema_drift="fail"), streams=["delivered_events"], expect_failure=True)
    assert "Schema drift" in failed.errors[0].trace.error.message  # type: ignore[union-attr]


def test_check_succeeds_on_staging_area_and_fails_with_actionable_messages(bucket: Bucket, tmp_path):
    stage_sample(bucket.writer(lambda: NOW), [PIXEL], batches_per_pixel=1, events_per_batch=1)
    source = SourceMetaCapi()
    import logging

    log = logging.getLogger("test")
    assert source.check(log, bucket.config()).status == Status.SUCCEEDED
    missing = bucket.config()
    if bucket.staging["bucket_url"].startswith("s3://"):
        missing["staging"]["bucket_url"] = "s3://no-such-bucket-here/x"
        expected = "bucket does not exist"
    else:
        missing["staging"]["bucket_url"] = str(tmp_path / "nowhere")
        expected = "does not exist"
    result = source.check(log, missing)
    assert result.status == Status.FAILED and expected in (result.message or "")
    bad_pixel = bucket.config()
    bad_pixel["pixels"] = [{"pixel_id": "../etc"}]
    assert "pixel_id" in (source.check(log, bad_pixel).message or "")


def test_check_refuses_a_prefix_that_is_not_a_staging_area(tmp_path):
    folder = tmp_path / "random"
    (folder / "photos").mkdir(parents=True)
    config = {"pixels": [{"pixel_id": "1"}], "staging": {"bucket_url": str(folder)}}
    import logging

    result = SourceMetaCapi().check(logging.getLogger("t"), config)
    assert result.status == Status.FAILED and "photos/" in (result.message or "")
