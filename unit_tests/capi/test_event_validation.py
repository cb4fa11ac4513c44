"""Validation of server events and CAPI request bodies (§1.1, §1.2, §2, §10): the envelope and the batch.

The parts of an event with a module of their own are tested beside it: test_user_data_validation.py,
test_action_source_validation.py, test_custom_data_validation.py, test_data_processing_validation.py.
"""

from typing import Any

import pytest

from source_meta_capi.capi.event_validation import (
    MAX_EVENTS_PER_REQUEST,
    EventRejection,
    validate_batch,
    validate_event,
)
from unit_tests.capi.validation_events import DAY, NOW, fields, web_event


def test_the_fact_sheet_example_event_is_valid() -> None:
    event = web_event(
        referrer_url="https://shop.example.com/checkout",
        user_data={
            "em": ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"],
            "client_ip_address": "2001:db8::7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
            "fbp": "fb.1.1764000000456.1098115397",
        },
        custom_data={
            "currency": "USD", "value": 123.45, "order_id": "10023",
            "contents": [{"id": "SKU-1", "quantity": 1, "item_price": 123.45}],
        },
        data_processing_options=[],
    )  # fmt: skip
    assert validate_event(event, NOW) == []


def test_non_object_event_is_rejected() -> None:
    assert validate_event(["not", "an", "event"], NOW, 3) == [
        EventRejection(3, None, "event", "event must be a JSON object")
    ]


@pytest.mark.parametrize("missing", ["event_name", "event_time", "user_data", "action_source"])
def test_required_fields_are_enforced(missing: str) -> None:
    event = web_event()
    del event[missing]
    assert missing in fields(validate_event(event, NOW))


@pytest.mark.parametrize("name", ["", "   ", 42, None, ["Purchase"]])
def test_event_name_must_be_a_non_empty_string(name: Any) -> None:
    event = web_event(event_name="ViewContent")
    event["event_name"] = name
    assert fields(validate_event(event, NOW)) == ["event_name"]


@pytest.mark.parametrize("action_source", ["web", "WEBSITE", "", 1])
def test_action_source_must_be_in_the_enum(action_source: Any) -> None:
    assert "action_source" in fields(validate_event(web_event(action_source=action_source), NOW))


@pytest.mark.parametrize("event_time", [True, "1764150000.0", " 1764150000", 1764149000.5, None, [NOW]])
def test_event_time_must_be_integer_seconds(event_time: Any) -> None:
    event = web_event()
    event["event_time"] = event_time
    assert fields(validate_event(event, NOW)) == ["event_time"]


def test_integral_float_event_time_is_accepted() -> None:
    assert validate_event(web_event(event_time=float(NOW - 10)), NOW) == []


def test_event_time_at_most_seven_days_old() -> None:
    assert validate_event(web_event(event_time=NOW - 7 * DAY), NOW) == []
    rejections = validate_event(web_event(event_time=NOW - 7 * DAY - 1), NOW)
    assert rejections == [EventRejection(0, "order-10023", "event_time", "event_time is more than 7 days old")]


def test_physical_store_events_may_be_62_days_old() -> None:
    event = web_event(action_source="physical_store", event_source_url=None)
    event["event_time"] = NOW - 62 * DAY
    assert validate_event(event, NOW) == []
    event["event_time"] = NOW - 62 * DAY - 1
    assert fields(validate_event(event, NOW)) == ["event_time"]


def test_event_time_up_to_60_seconds_in_the_future_is_accepted_as_is() -> None:
    assert validate_event(web_event(event_time=NOW + 60), NOW) == []
    assert fields(validate_event(web_event(event_time=NOW + 61), NOW)) == ["event_time"]


def test_millisecond_event_time_is_rejected_with_a_hint() -> None:
    [rejection] = validate_event(web_event(event_time=NOW * 1000), NOW)
    assert "milliseconds" in rejection.reason


@pytest.mark.parametrize("event_id", ["", "  ", 1.5, True, {"id": 1}, "x" * 257])
def test_bad_event_ids_are_rejected(event_id: Any) -> None:
    event = web_event()
    event["event_id"] = event_id
    assert fields(validate_event(event, NOW)) == ["event_id"]


def test_integer_event_id_is_accepted_and_reported_as_string() -> None:
    assert validate_event(web_event(event_id=10023), NOW) == []
    [rejection] = validate_event(web_event(event_id=10023, event_time="x"), NOW)
    assert rejection.event_id == "10023"


def test_optional_fields_are_type_checked() -> None:
    event = web_event(opt_out="yes", original_event_data="x", referrer_url=5)
    assert fields(validate_event(event, NOW)) == [
        "opt_out",
        "referrer_url",
        "original_event_data",
    ]


def test_rejection_reasons_never_repeat_submitted_values() -> None:
    secret = "joe.secret@example.com"
    event = web_event(
        event_name=secret,
        action_source=secret,
        event_source_url=secret,
        event_time=secret,
        user_data={"em": {"x": secret}, "fbp": [secret]},
        custom_data=secret,
        referrer_url=["x"],
    )
    rejections = validate_event(event, NOW)
    assert rejections
    assert secret not in repr(rejections)
    assert secret not in repr(validate_batch({"data": [event]}, NOW).rejections)


def test_batch_splits_valid_and_rejected_events() -> None:
    body = {
        "data": [web_event(), web_event(event_id="b", event_time=NOW - 8 * DAY), "junk"],
        "test_event_code": "TEST123",
        "partner_agent": "ourconnector_1_0",
        "upload_tag": "tolerated",
    }
    result = validate_batch(body, NOW)
    assert result.valid_indices == (0,)
    assert [(r.index, r.event_id, r.field) for r in result.rejections] == [
        (1, "b", "event_time"),
        (2, None, "event"),
    ]
    assert (result.test_event_code, result.partner_agent) == ("TEST123", "ourconnector_1_0")
    assert not result.body_rejected


def test_batch_accepts_repeated_event_name_and_event_id_as_meta_does() -> None:
    body = {
        "data": [
            web_event(event_id="A", event_time="bad"),
            web_event(event_id="A"),
            web_event(event_id="A"),
            web_event(event_id="A", event_name="ViewContent"),
            web_event(event_id=7),
            web_event(event_id="7"),
            web_event(event_id=None),
            web_event(event_id=None),
        ]
    }
    result = validate_batch(body, NOW)
    # Meta keeps the first of each (event_name, event_id) and drops the rest (§5).
    assert result.valid_indices == (1, 2, 3, 4, 5, 6, 7)
    assert [(r.index, r.field) for r in result.rejections] == [(0, "event_time")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([web_event()], "body"),
        ("{}", "body"),
        ({}, "data"),
        ({"data": web_event()}, "data"),
        ({"data": "[{}]"}, "data"),
        ({"data": []}, "data"),
        ({"data": [web_event()] * (MAX_EVENTS_PER_REQUEST + 1)}, "data"),
        ({"data": [web_event()], "test_event_code": 123}, "test_event_code"),
        ({"data": [web_event()], "partner_agent": ["x"]}, "partner_agent"),
    ],
)
def test_unusable_bodies_are_rejected_as_a_whole(body: Any, field: str) -> None:
    result = validate_batch(body, NOW)
    assert result.body_rejected
    assert result.valid_indices == ()
    assert [(r.index, r.field) for r in result.rejections] == [(None, field)]


def test_a_batch_of_exactly_1000_events_is_accepted() -> None:
    body = {"data": [web_event(event_id=str(i)) for i in range(MAX_EVENTS_PER_REQUEST)]}
    result = validate_batch(body, NOW)
    assert len(result.valid_indices) == MAX_EVENTS_PER_REQUEST
    assert result.rejections == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action_source", []),
        ("action_source", {"a": 1}),
        ("data_processing_options_country", [1]),
        ("data_processing_options_state", {"state": 1000}),
    ],
)
def test_given_array_or_object_where_a_code_is_expected_when_validating_then_rejected_not_raised(field, value):
    # Found by the reliability fuzz suite: set membership of an unhashable value raises
    # TypeError, which the receiver would answer with a 500.
    event = {
        "event_name": "Lead",
        "event_time": NOW - 30,
        "event_id": "fuzz-1",
        "action_source": "email",
        "user_data": {"em": "a@b.co", "client_ip_address": "203.0.113.7"},
        "data_processing_options": ["LDU"],
        "data_processing_options_country": 1,
        "data_processing_options_state": 1000,
        field: value,
    }
    assert [r.field for r in validate_event(event, NOW, 0)] == [field]
