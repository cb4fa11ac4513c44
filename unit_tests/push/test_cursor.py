from types import SimpleNamespace
from unittest.mock import MagicMock

from source_meta_capi.push.cursor import ArrivalWatermarkCursor

KEY = "events/pixel_id=1/date=2026-11-26/hour={h:02d}/20261126T{h:02d}0000000000Z-w-0000000000000000.jsonl.gz"


def make_cursor(state=None):
    repository = MagicMock()
    manager = MagicMock()
    cursor = ArrivalWatermarkCursor("delivered_events", "received_at", state or {}, repository, manager)
    return cursor, manager


def partition(cursor, hour, read=True):
    return SimpleNamespace(
        pixel_id="1", partition_id=cursor.register("1"), last_key_read=KEY.format(h=hour) if read else None
    )


def test_watermark_only_moves_over_contiguous_finished_partitions():
    cursor, manager = make_cursor()
    first, second, third = partition(cursor, 1), partition(cursor, 2), partition(cursor, 3)
    cursor.close_partition(second)
    assert cursor.last_key("1") is None and not manager.update_state_for_stream.called
    cursor.close_partition(first)
    assert cursor.last_key("1") == KEY.format(h=2)
    cursor.close_partition(third)
    state = cursor.state
    assert state == {"pixels": {"1": {"last_key": KEY.format(h=3), "received_at": "2026-11-26T03:00:00.000000Z"}}}


def test_empty_partition_keeps_previous_key_and_state_resumes():
    cursor, _ = make_cursor({"pixels": {"1": {"last_key": KEY.format(h=5)}}})
    assert cursor.last_key("1") == KEY.format(h=5)
    empty = partition(cursor, 6, read=False)
    cursor.close_partition(empty)
    assert cursor.last_key("1") == KEY.format(h=5)
