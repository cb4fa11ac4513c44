import gzip
from datetime import datetime, timedelta, timezone

import pytest

from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import CorruptObjectError
from source_meta_capi.staging.writer import StagingWriter

T0 = datetime(2026, 11, 24, 22, 30, tzinfo=timezone.utc)


def staged(tmp_path, hours):
    store = LocalFolderStore(str(tmp_path))
    times = iter(T0 + timedelta(hours=h) for h in hours)
    writer = StagingWriter(store, writer_id="w", clock=lambda: next(times))
    keys = [writer.stage(ObjectKind.EVENTS, "7", [{"pixel_id": "7", "n": h}]).key for h in hours]
    return store, keys


def test_hours_and_objects_in_arrival_order_after_a_key(tmp_path):
    store, keys = staged(tmp_path, [0, 1, 2, 25, 26])
    reader = StagingReader(store)
    hours = list(reader.hours(ObjectKind.EVENTS, "7"))
    assert [h.sort_key for h in hours] == [
        "2026-11-24T22",
        "2026-11-24T23",
        "2026-11-25T00",
        "2026-11-25T23",
        "2026-11-26T00",
    ]
    after = list(reader.hours(ObjectKind.EVENTS, "7", after_key=keys[2]))
    assert [h.sort_key for h in after] == ["2026-11-25T00", "2026-11-25T23", "2026-11-26T00"]
    assert [o.key for h in after for o in reader.objects(h, after_key=keys[2])] == keys[3:]


def test_objects_stop_at_the_settle_cutoff(tmp_path):
    store, keys = staged(tmp_path, [0, 0.1, 0.2])
    reader = StagingReader(store)
    (hour,) = list(reader.hours(ObjectKind.EVENTS, "7"))
    cutoff = T0 + timedelta(hours=0.15)
    assert [o.key for o in reader.objects(hour, arrived_before=cutoff)] == keys[:2]


def test_corrupt_gzip_and_bad_lines_are_named(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    reader = StagingReader(store)
    store.put_if_absent("bad.gz", b"not gzip")
    with pytest.raises(CorruptObjectError, match=r"bad\.gz"):
        list(reader.read("bad.gz"))
    store.put_if_absent("lines.gz", gzip.compress(b'{"a": 1}\n{oops\n[1]\n'))
    lines = list(reader.read("lines.gz"))
    assert lines[0].record == {"a": 1}
    assert lines[1].error is not None and lines[1].error.line == 2 and "lines.gz line 2" in str(lines[1].error)
    assert lines[2].error is not None and "not a JSON object" in lines[2].error.reason


class _CountingStore(LocalFolderStore):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.listings = 0

    def list_keys(self, prefix, start_after=None):
        self.listings += 1
        return super().list_keys(prefix, start_after)

    def list_children(self, prefix, start_after=None):
        self.listings += 1
        return super().list_children(prefix, start_after)


def test_hour_batches_group_one_flat_listing_by_hour_and_honour_after_key_and_cutoff(tmp_path):
    _, keys = staged(tmp_path, [0, 0.1, 1, 2, 25, 26, 26.2])
    store = _CountingStore(str(tmp_path))
    store.put_if_absent("events/pixel_id=7/date=2026-11-25/hour=00/not-ours.txt", b"x")
    reader = StagingReader(store)
    batches = list(reader.hour_batches(ObjectKind.EVENTS, "7"))
    assert [(h.sort_key, [o.key for o in objects]) for h, objects in batches] == [
        ("2026-11-24T22", keys[0:2]),
        ("2026-11-24T23", keys[2:3]),
        ("2026-11-25T00", keys[3:4]),
        ("2026-11-25T23", keys[4:5]),
        ("2026-11-26T00", keys[5:7]),
    ]
    assert store.listings == 1
    after = list(
        reader.hour_batches(ObjectKind.EVENTS, "7", after_key=keys[2], arrived_before=T0 + timedelta(hours=26.1))
    )
    assert [o.key for _, objects in after for o in objects] == keys[3:6]
    # The same objects as the per-folder listing (hours + objects) finds.
    per_folder = [o.key for h in reader.hours(ObjectKind.EVENTS, "7") for o in reader.objects(h)]
    assert [o.key for _, objects in batches for o in objects] == per_folder
