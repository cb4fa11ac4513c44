"""Validation of server events and CAPI request bodies (§1.1, §1.2, §2, §10)."""

from typing import Any

import pytest

from source_meta_capi.capi.event_validation import (
    MAX_EVENTS_PER_REQUEST,
    EventRejection,
    validate_batch,
    validate_event,
)

NOW = 1764150000
DAY = 24 * 3600
EXTINFO = ["a2", "com.example", "1", "1.0", "14", "Pixel", "en_US", "UTC",
           "", "1080", "1920", "2.0", "8", "128", "64", "Europe/Berlin"]  # fmt: skip


def web_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "event_id": "order-10023",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thank-you",
        "user_data": {"em": "joe@example.com", "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "USD", "value": 123.45},
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def app_event(**overrides: Any) -> dict[str, Any]:
    event = web_event(
        action_source="app",
        event_source_url=None,
        event_name="AddToCart",
        custom_data=None,
        user_data={"madid": "38400000-8cf0-11bd-b23e-10b96e40000d"},
        app_data={
            "advertiser_tracking_enabled": True,
            "application_tracking_enabled": 1,
            "extinfo": EXTINFO,
        },
    )
    event.update(overrides)
    return event


def fields(rejections: list[EventRejection]) -> list[str]:
    return [rejection.field for rejection in rejections]


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


@pytest.mark.parametrize(
    "action_source",
    ["email", "phone_call", "chat", "physical_store", "system_generated", "other"],
)
def test_non_web_sources_need_no_url_or_user_agent(action_source: str) -> None:
    event = web_event(action_source=action_source, event_source_url=None,
                      user_data={"em": "joe@example.com"})  # fmt: skip
    assert validate_event(event, NOW) == []


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


def test_website_events_need_url_and_user_agent() -> None:
    event = web_event(event_source_url="shop.example.com/x", user_data={"em": "a@b.co"})
    assert fields(validate_event(event, NOW)) == [
        "event_source_url",
        "user_data.client_user_agent",
    ]
    assert "event_source_url" in fields(validate_event(web_event(event_source_url=None), NOW))
    assert validate_event(web_event(event_source_url="HTTP://shop.example.com"), NOW) == []


def test_valid_app_event() -> None:
    assert validate_event(app_event(), NOW) == []


def test_app_events_need_app_data() -> None:
    event = app_event()
    del event["app_data"]
    assert fields(validate_event(event, NOW)) == ["app_data"]


@pytest.mark.parametrize(
    ("app_data", "expected"),
    [
        ({"application_tracking_enabled": True, "extinfo": EXTINFO},
         ["app_data.advertiser_tracking_enabled"]),
        ({"advertiser_tracking_enabled": "yes", "application_tracking_enabled": True,
          "extinfo": EXTINFO}, ["app_data.advertiser_tracking_enabled"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False},
         ["app_data.extinfo"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False,
          "extinfo": EXTINFO[:15]}, ["app_data.extinfo"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False,
          "extinfo": [*EXTINFO[:15], None]}, ["app_data.extinfo"]),
    ],
)  # fmt: skip
def test_app_data_shape(app_data: dict[str, Any], expected: list[str]) -> None:
    assert fields(validate_event(app_event(app_data=app_data), NOW)) == expected


def test_business_messaging_needs_messaging_channel() -> None:
    event = web_event(action_source="business_messaging", event_source_url=None,
                      event_name="Lead", user_data={"ctwa_clid": "abc"})  # fmt: skip
    assert fields(validate_event(event, NOW)) == ["messaging_channel"]
    event["messaging_channel"] = "whatsapp"
    assert validate_event(event, NOW) == []


@pytest.mark.parametrize(
    ("custom_data", "expected"),
    [
        (None, ["custom_data.value", "custom_data.currency"]),
        ({"currency": "USD"}, ["custom_data.value"]),
        ({"currency": "USD", "value": "12.5"}, []),
        ({"currency": "USD", "value": "abc"}, ["custom_data.value"]),
        ({"currency": "USD", "value": True}, ["custom_data.value"]),
        ({"currency": "USD", "value": float("nan")}, ["custom_data.value"]),
        ({"value": 1}, ["custom_data.currency"]),
        ({"value": 1, "currency": "US"}, ["custom_data.currency"]),
        ({"value": 1, "currency": "U$D"}, ["custom_data.currency"]),
        ({"value": 1, "currency": "XYZ"}, ["custom_data.currency"]),
        ({"value": 0, "currency": "usd"}, []),
        ({"value": 10, "currency": "EUR"}, []),
    ],
)
def test_purchase_needs_value_and_currency(custom_data: dict[str, Any] | None, expected: list[str]) -> None:
    assert fields(validate_event(web_event(custom_data=custom_data), NOW)) == expected


def test_custom_data_must_be_an_object() -> None:
    event = web_event(event_name="ViewContent", custom_data=["x"])
    assert fields(validate_event(event, NOW)) == ["custom_data"]


@pytest.mark.parametrize("event_id", ["", "  ", 1.5, True, {"id": 1}, "x" * 257])
def test_bad_event_ids_are_rejected(event_id: Any) -> None:
    event = web_event()
    event["event_id"] = event_id
    assert fields(validate_event(event, NOW)) == ["event_id"]


def test_integer_event_id_is_accepted_and_reported_as_string() -> None:
    assert validate_event(web_event(event_id=10023), NOW) == []
    [rejection] = validate_event(web_event(event_id=10023, event_time="x"), NOW)
    assert rejection.event_id == "10023"


def test_user_data_must_carry_a_match_key() -> None:
    event = web_event(action_source="email", event_source_url=None,
                      user_data={"em": "", "ph": []})  # fmt: skip
    assert fields(validate_event(event, NOW)) == ["user_data"]


@pytest.mark.parametrize(
    ("user_data", "field"),
    [
        ({"em": {"address": "a@b.co"}, "fbp": "fb.1.2.3"}, "user_data.em"),
        ({"em": ["a@b.co", 1.5], "fbp": "fb.1.2.3"}, "user_data.em"),
        ({"em": "a@b.co", "fbp": ["fb.1.2.3"]}, "user_data.fbp"),
    ],
)
def test_user_data_value_types(user_data: dict[str, Any], field: str) -> None:
    event = web_event(action_source="email", event_source_url=None, user_data=user_data)
    assert fields(validate_event(event, NOW)) == [field]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"data_processing_options": []}, []),
        ({"data_processing_options": "LDU"}, ["data_processing_options"]),
        ({"data_processing_options": ["LDU", 1]}, ["data_processing_options"]),
        ({"data_processing_options": ["LDU"], "data_processing_options_country": 1,
          "data_processing_options_state": 1000}, []),
        ({"data_processing_options": ["LDU"], "data_processing_options_country": 0,
          "data_processing_options_state": 0}, []),
        ({"data_processing_options": ["LDU"], "data_processing_options_state": 0},
         ["data_processing_options_country"]),
        ({"data_processing_options": ["LDU"], "data_processing_options_country": 1},
         ["data_processing_options_state"]),
        ({"data_processing_options": ["LDU"], "data_processing_options_country": 1,
          "data_processing_options_state": 999}, ["data_processing_options_state"]),
    ],
)  # fmt: skip
def test_limited_data_use(overrides: dict[str, Any], expected: list[str]) -> None:
    assert fields(validate_event(web_event(**overrides), NOW)) == expected


def test_ldu_state_is_optional_when_an_ip_address_is_sent() -> None:
    event = web_event(data_processing_options=["LDU"], data_processing_options_country=1)
    event["user_data"]["client_ip_address"] = "2001:db8::7"
    assert validate_event(event, NOW) == []


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
