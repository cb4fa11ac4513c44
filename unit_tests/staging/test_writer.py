from datetime import datetime, timedelta, timezone

import pytest

from source_meta_capi.staging.keys import ObjectKind, parse_object_key
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.writer import CommitDeadlineExceededError, StagingWriter

MOMENT = datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc)


def test_staged_records_round_trip_with_writer_envelope(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    writer = StagingWriter(store, writer_id="w1", clock=lambda: MOMENT)
    staged = writer.stage(ObjectKind.EVENTS, "123", [{"pixel_id": "123", "event_id": "e1", "event_time": 1}])
    parsed = parse_object_key(staged.key)
    assert parsed is not None and parsed.arrival == MOMENT and parsed.writer_id == "w1"
    lines = list(StagingReader(store).read(staged.key))
    assert [line.record for line in lines] == [
        {
            "pixel_id": "123",
            "event_id": "e1",
            "event_time": 1,
            "received_at": "2026-11-26T07:00:00.000000Z",
            "schema_version": 2,
        }
    ]


def test_arrival_stamps_strictly_increase_for_one_writer(tmp_path):
    writer = StagingWriter(LocalFolderStore(str(tmp_path)), writer_id="w", clock=lambda: MOMENT)
    first = writer.plan(ObjectKind.EVENTS, "1")
    second = writer.plan(ObjectKind.EVENTS, "1")
    assert second.arrival > first.arrival and second.stem > first.stem


def test_given_deadline_passed_when_committing_then_abandoned_and_nothing_written(tmp_path):
    ticks = iter([0.0, 31.0, 31.0])
    store = LocalFolderStore(str(tmp_path))
    writer = StagingWriter(
        store, writer_id="w", clock=lambda: MOMENT, monotonic=lambda: next(ticks), commit_deadline_s=30
    )
    planned = writer.plan(ObjectKind.EVENTS, "1")
    with pytest.raises(CommitDeadlineExceededError):
        writer.commit(planned, [{"pixel_id": "1"}])
    assert list(store.list_keys("")) == []


def test_content_derived_names_same_content_same_key(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    writer = StagingWriter(store, writer_id="w", clock=lambda: MOMENT)
    planned = writer.plan(ObjectKind.EVENTS, "1")
    a = writer.commit(planned, [{"pixel_id": "1", "x": 1}])
    b = writer.commit(planned, [{"pixel_id": "1", "x": 1}])
    assert a.key == b.key
    assert len(list(store.list_keys("events/"))) == 1
    assert writer.commit_lines(planned, [b'{"pixel_id":"1","x":1}']).key == a.key


def test_hour_folders_follow_arrival(tmp_path):
    times = iter([MOMENT, MOMENT + timedelta(hours=1, minutes=5)])
    writer = StagingWriter(LocalFolderStore(str(tmp_path)), writer_id="w", clock=lambda: next(times))
    a = writer.stage(ObjectKind.DEAD_LETTERS, "9", [{"pixel_id": "9"}])
    b = writer.stage(ObjectKind.DEAD_LETTERS, "9", [{"pixel_id": "9"}])
    assert "/hour=07/" in a.key and "/hour=08/" in b.key
