"""The push streams: one definition per stream, and a read that leaves the host process as it was."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read

from source_meta_capi.config import SourceConfig
from source_meta_capi.push.streams import PUSH_STREAMS, build_push_streams, load_schema
from source_meta_capi.push.sync_report import SyncReport
from source_meta_capi.source import SourceMetaCapi
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.sample_data import stage_sample
from source_meta_capi.staging.writer import StagingWriter

PIXEL = "1234567890"


def test_every_push_stream_has_one_stream_per_kind_a_schema_and_its_cursor_in_it():
    assert sorted(spec.kind for spec in PUSH_STREAMS) == sorted(ObjectKind)
    for spec in PUSH_STREAMS:
        properties = load_schema(spec.name)["properties"]
        assert spec.cursor_field in properties
        assert all(field in properties for field in spec.primary_key)


def test_given_a_staging_config_when_built_then_each_stream_comes_with_its_reader(tmp_path):
    config = SourceConfig.from_mapping(
        {
            "pixels": [{"pixel_id": PIXEL, "custom_data_properties": {"coupon": "string"}}],
            "staging": {"bucket_url": str(tmp_path), "decode_processes": 0},
        }
    )
    state_manager = MagicMock()
    state_manager.get_stream_state.return_value = {}
    built = build_push_streams(
        config, StagingReader(LocalFolderStore(str(tmp_path))), state_manager, MagicMock(), frozenset(), SyncReport()
    )
    assert [b.stream.name for b in built] == [spec.name for spec in PUSH_STREAMS]
    assert [b.reader.spec for b in built] == list(PUSH_STREAMS)
    events = built[0].stream.get_json_schema()
    assert events["properties"]["custom_data"]["properties"]["coupon"] == {"type": ["null", "string"]}
    for b in built:
        b.reader.close()
        b.reader.close()


def test_given_an_in_process_read_when_it_ends_then_the_garbage_collector_is_untouched(tmp_path):
    # Freezing the heap is for the console entry point's one-sync process (run.py), never a host's.
    writer = StagingWriter(
        LocalFolderStore(str(tmp_path)), clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1)
    )
    stage_sample(writer, [PIXEL], batches_per_pixel=2, events_per_batch=5)
    config = {"pixels": [{"pixel_id": PIXEL}], "staging": {"bucket_url": str(tmp_path)}}
    builder = CatalogBuilder()
    for spec in PUSH_STREAMS:
        builder.with_stream(spec.name, SyncMode.full_refresh)
    catalog = builder.build()
    frozen_before = gc.get_freeze_count()
    output = read(SourceMetaCapi(config=config, catalog=catalog), config, catalog)
    assert len([m for m in output.records if m.record and m.record.stream == "delivered_events"]) == 10
    assert gc.get_freeze_count() == frozen_before


def test_partitions_come_pixel_by_pixel_in_turn_each_pixel_in_arrival_order(tmp_path):
    # Each decoder process owns some pixels: generating them in turn keeps every process busy,
    # while the cursor still sees each pixel's hours in order.
    pixels = ["1111111111", "2222222222", "3333333333"]
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=10)
    store = LocalFolderStore(str(tmp_path))
    hours_of = {"1111111111": 3, "2222222222": 1, "3333333333": 2}
    for pixel, hours in hours_of.items():
        for hour in range(hours):
            moment = start + timedelta(hours=hour)
            StagingWriter(store, clock=lambda moment=moment: moment).stage(
                ObjectKind.EVENTS, pixel, [{"event_id": "e"}]
            )
    config = SourceConfig.from_mapping(
        {"pixels": [{"pixel_id": p} for p in pixels], "staging": {"bucket_url": str(tmp_path), "decode_processes": 0}}
    )
    state_manager = MagicMock()
    state_manager.get_stream_state.return_value = {}
    built = build_push_streams(config, StagingReader(store), state_manager, MagicMock(), frozenset(), SyncReport())
    try:
        generated = [(p.pixel_id, p.hour.hour) for p in built[0].reader.generate()]  # type: ignore[attr-defined]
    finally:
        for b in built:
            b.reader.close()
    hour = [f"{(start + timedelta(hours=n)):%H}" for n in range(3)]
    assert generated == [
        ("1111111111", hour[0]),
        ("2222222222", hour[0]),
        ("3333333333", hour[0]),
        ("1111111111", hour[1]),
        ("3333333333", hour[1]),
        ("1111111111", hour[2]),
    ]
