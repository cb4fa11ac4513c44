from datetime import datetime, timezone

import pytest

from source_meta_capi.staging.keys import (
    InvalidKeySegmentError,
    ObjectKind,
    arrival_floor_key,
    arrival_stamp,
    object_key,
    parse_arrival_stamp,
    parse_object_key,
    validate_pixel_id,
)

MOMENT = datetime(2026, 11, 26, 7, 49, 52, 123456, tzinfo=timezone.utc)


def test_object_key_layout_sorts_by_arrival():
    key = object_key(ObjectKind.EVENTS, "123", MOMENT, "writer1", "0123456789abcdef")
    assert key == "events/pixel_id=123/date=2026-11-26/hour=07/20261126T074952123456Z-writer1-0123456789abcdef.jsonl.gz"
    later = object_key(ObjectKind.EVENTS, "123", MOMENT.replace(hour=10), "a", "0123456789abcdef")
    earlier_writer_z = object_key(ObjectKind.EVENTS, "123", MOMENT, "zzz", "ffffffffffffffff")
    assert sorted([later, earlier_writer_z, key]) == [key, earlier_writer_z, later]


def test_arrival_stamp_round_trips_and_is_fixed_width():
    stamp = arrival_stamp(MOMENT)
    assert len(stamp) == 22
    assert parse_arrival_stamp(stamp) == MOMENT
    assert len(arrival_stamp(datetime(2026, 1, 1, tzinfo=timezone.utc))) == 22


def test_naive_arrival_is_refused():
    with pytest.raises(ValueError):
        arrival_stamp(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "pixel_id",
    ["", "../1", "1/2", "%2e%2e", "12a", "１２３", "1" * 21, " 123", "123\n", None, 123, "..", "\u0661\u0662"],
)
def test_given_path_tricks_when_validating_pixel_id_then_refused(pixel_id):
    with pytest.raises(InvalidKeySegmentError):
        validate_pixel_id(pixel_id)


def test_parse_object_key_round_trip_and_rejects_foreign_keys():
    key = object_key(ObjectKind.STATUSES, "42", MOMENT, "w", "0123456789abcdef")
    parsed = parse_object_key(key)
    assert parsed is not None
    assert (parsed.kind, parsed.pixel_id, parsed.arrival, parsed.writer_id) == (ObjectKind.STATUSES, "42", MOMENT, "w")
    assert parse_object_key("events/pixel_id=42/date=2026-11-26/hour=07/notes.txt") is None
    # The folder must agree with the stamp, or the listing order would lie.
    assert parse_object_key(key.replace("hour=07", "hour=08")) is None


def test_arrival_floor_key_sorts_before_objects_at_that_moment_and_after_earlier_ones():
    floor = arrival_floor_key(ObjectKind.EVENTS, "1", MOMENT)
    at = object_key(ObjectKind.EVENTS, "1", MOMENT, "w", "0" * 16)
    before = object_key(ObjectKind.EVENTS, "1", MOMENT.replace(microsecond=0), "w", "0" * 16)
    assert before < floor < at
