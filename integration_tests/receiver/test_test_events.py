"""Test events (test_event_code) only for the pixels META_CAPI_TEST_EVENT_PIXELS lists, through a
real uvicorn on 127.0.0.1."""

from __future__ import annotations

import re

from integration_tests.receiver.conftest import PIXEL, event
from source_meta_capi.staging.keys import ObjectKind

TEST_PIXEL = "9999999999"


def counted(receiver, pixel: str, outcome: str) -> float:
    text = receiver.session.get(f"{receiver.url}/metrics").text
    pattern = rf'^meta_capi_receiver_test_events_total\{{outcome="{outcome}",pixel_id="{pixel}"\}} (\S+)$'
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_given_default_setting_when_test_event_code_sent_then_accepted_as_before(make_receiver) -> None:
    receiver = make_receiver()
    response = receiver.send({"data": [event("t1"), event("t2")], "test_event_code": "TEST123"})
    assert response.status_code == 200, response.text
    assert [r["test_event_code"] for r in receiver.records(ObjectKind.EVENTS)] == ["TEST123", "TEST123"]
    assert counted(receiver, PIXEL, "accepted") == 2.0


def test_given_pixel_not_listed_when_test_event_code_sent_then_each_event_refused_dead_lettered_and_422(
    make_receiver,
) -> None:
    receiver = make_receiver(test_event_pixels=TEST_PIXEL)
    response = receiver.send({"data": [event("p1"), event("p2")], "test_event_code": "TEST123"})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["events_accepted"] == 0 and answer["events_rejected"] == 2
    assert [(r["index"], r["event_id"], r["field"]) for r in answer["rejections"]] == [
        (0, "p1", "test_event_code"),
        (1, "p2", "test_event_code"),
    ]
    assert all(PIXEL in r["reason"] and "META_CAPI_TEST_EVENT_PIXELS" in r["reason"] for r in answer["rejections"])
    error = answer["error"]
    assert (error["code"], error["field"], error["event_ids"]) == (
        "all_events_rejected",
        "test_event_code",
        ["p1", "p2"],
    )
    assert receiver.records(ObjectKind.EVENTS) == []
    letters = receiver.records(ObjectKind.DEAD_LETTERS)
    assert sorted((letter["event_id"], letter["field"]) for letter in letters) == [
        ("p1", "test_event_code"),
        ("p2", "test_event_code"),
    ]
    assert counted(receiver, PIXEL, "refused") == 2.0
    assert counted(receiver, PIXEL, "accepted") == 0.0


def test_given_pixel_not_listed_when_production_events_sent_then_accepted(make_receiver) -> None:
    receiver = make_receiver(test_event_pixels=TEST_PIXEL)
    assert receiver.send({"data": [event("live")]}).status_code == 200
    assert [r["event_id"] for r in receiver.records(ObjectKind.EVENTS)] == ["live"]


def test_given_listed_test_pixel_when_test_event_code_sent_then_accepted_and_counted(make_receiver) -> None:
    receiver = make_receiver(test_event_pixels=f"{TEST_PIXEL},{PIXEL}0")
    response = receiver.send({"data": [event("ok")], "test_event_code": "TEST9"}, pixel_id=TEST_PIXEL)
    assert response.status_code == 200, response.text
    assert [r["event_id"] for r in receiver.records(ObjectKind.EVENTS, TEST_PIXEL)] == ["ok"]
    assert counted(receiver, TEST_PIXEL, "accepted") == 1.0
