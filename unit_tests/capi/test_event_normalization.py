"""A valid raw event becomes the staged/forwardable form (§2.1, §2.5, §3, §4)."""

import copy
import json
from datetime import date
from typing import Any

from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import validate_event
from source_meta_capi.capi.user_data_normalization import (
    NormalizationWarning,
    WarningKind,
    is_sha256_hex,
)

NOW = 1764150060
TODAY = date(2025, 11, 26)

RAW_PURCHASE: dict[str, Any] = {
    "event_name": "Purchase",
    "event_time": 1764150000,
    "event_id": "order-10023",
    "action_source": "website",
    "event_source_url": "https://shop.example.com/checkout/thank-you",
    "referrer_url": "https://shop.example.com/checkout",
    "user_data": {
        "em": "  Joe@Example.COM ",
        "ph": "(650)555-1212",
        "fn": "Joe",
        "ln": "Smith",
        "ct": "Menlo Park",
        "st": "California",
        "zp": "94025-1234",
        "country": "United States",
        "external_id": "user123",
        "client_ip_address": "2001:db8::7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
        "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
        "fbp": "fb.1.1764000000456.1098115397",
    },
    "custom_data": {
        "currency": "USD", "value": 123.45, "order_id": "10023",
        "content_type": "product", "content_ids": ["SKU-1"],
        "contents": [{"id": "SKU-1", "quantity": 1, "item_price": 123.45,
                      "delivery_category": "home_delivery"}],
        "num_items": 1, "customer_segmentation": "new_customer_to_business",
    },
    "data_processing_options": [],
}  # fmt: skip

# The fact sheet's §2.5 example: the same event as Meta should receive it.
EXPECTED_USER_DATA = {
    "em": ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"],
    "ph": ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
    "fn": ["78675cc176081372c43abab3ea9fb70c74381eb02dc6e93fb6d44d161da6eeb3"],
    "ln": ["6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"],
    "ct": ["0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"],
    "st": ["6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"],
    "zp": ["b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"],
    "country": ["79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"],
    "external_id": ["e606e38b0d8c19b24cf0ee3808183162ea7cd63ff7912dbb22b5e803286b4446"],
    "client_ip_address": "2001:db8::7",
    "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
    "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
    "fbp": "fb.1.1764000000456.1098115397",
}


def test_raw_example_purchase_normalizes_to_the_fact_sheet_payload() -> None:
    assert validate_event(RAW_PURCHASE, NOW) == []
    result = normalize_event(RAW_PURCHASE, today=TODAY)
    assert result.warnings == ()
    expected = {**RAW_PURCHASE, "user_data": EXPECTED_USER_DATA}
    assert result.event == expected


def test_normalization_does_not_modify_the_input() -> None:
    before = copy.deepcopy(RAW_PURCHASE)
    normalize_event(RAW_PURCHASE, today=TODAY)
    assert before == RAW_PURCHASE


def test_given_nested_fields_when_the_result_is_modified_then_the_input_is_not() -> None:
    # normalize_event does not deep-copy every field; the result must still own its objects
    # (process() dead-letters the original events and the forwarder edits the result).
    raw = copy.deepcopy(RAW_PURCHASE)
    raw["customer_segmentation"] = "existing_customer_to_business"
    raw["original_event_data"] = {"event_name": "Lead", "event_time": 1764140000}
    raw["app_data"] = {"extinfo": ["a2", "com.example"], "advertiser_tracking_enabled": True}
    raw["data_processing_options"] = ["LDU"]
    del raw["custom_data"]["customer_segmentation"]
    before = copy.deepcopy(raw)
    event = normalize_event(raw, today=TODAY).event
    assert event["custom_data"]["customer_segmentation"] == "existing_customer_to_business"

    def scramble(value: Any) -> None:
        if isinstance(value, dict):
            for item in list(value.values()):
                scramble(item)
            value["scrambled"] = True
        elif isinstance(value, list):
            for item in value:
                scramble(item)
            value.append("scrambled")

    scramble(event)
    assert raw == before


def test_normalizing_twice_gives_the_same_event() -> None:
    once = normalize_event(RAW_PURCHASE, today=TODAY).event
    assert normalize_event(once, today=TODAY).event == once


def test_no_raw_personal_data_survives_anywhere_in_the_staged_event() -> None:
    raw = copy.deepcopy(RAW_PURCHASE)
    raw["custom_data"]["email"] = "joe@example.com"
    raw["custom_data"]["contents"][0]["buyerPhone"] = "(650)555-1212"
    staged = json.dumps(normalize_event(raw, today=TODAY).event, ensure_ascii=False)
    for value in (
        "Joe@Example",
        "joe@example.com",
        "555-1212",
        "Smith",
        "Menlo",
        "California",
        "94025",
        "United States",
        "user123",
    ):
        assert value not in staged


def test_unknown_top_level_fields_are_dropped_with_a_warning() -> None:
    raw = {**RAW_PURCHASE, "access_token": "EAAB-secret", "debug": True}
    result = normalize_event(raw, today=TODAY)
    assert "access_token" not in result.event
    assert "debug" not in result.event
    assert [w.field for w in result.warnings] == ["access_token", "debug"]
    assert "EAAB-secret" not in repr(result.warnings)


def test_integer_event_id_becomes_a_string_and_float_time_an_int() -> None:
    result = normalize_event({**RAW_PURCHASE, "event_id": 10023, "event_time": 1764150000.0})
    assert result.event["event_id"] == "10023"
    assert result.event["event_time"] == 1764150000
    assert isinstance(result.event["event_time"], int)


def test_null_event_id_is_removed() -> None:
    assert "event_id" not in normalize_event({**RAW_PURCHASE, "event_id": None}).event


def test_custom_data_pii_is_stripped_and_reported_by_path() -> None:
    raw = copy.deepcopy(RAW_PURCHASE)
    raw["custom_data"]["firstName"] = "Joe"
    raw["custom_data"]["contents"][0]["email"] = "joe@example.com"
    result = normalize_event(raw, today=TODAY)
    assert "firstName" not in result.event["custom_data"]
    assert "email" not in result.event["custom_data"]["contents"][0]
    assert result.stripped_custom_data_keys == ("contents[0].email", "firstName")
    assert NormalizationWarning("custom_data.firstName", "dropped: personal data key in custom_data") in result.warnings


def test_user_data_warnings_are_prefixed_and_value_free() -> None:
    raw = {**RAW_PURCHASE, "user_data": {"em": "nobody", "ge": "unknown",
                                          "client_user_agent": "UA"}}  # fmt: skip
    result = normalize_event(raw, today=TODAY)
    assert result.event["user_data"] == {"client_user_agent": "UA"}
    # A user agent alone is a subset of one of Meta's too-thin combinations (§2.2).
    assert [w.field for w in result.warnings] == ["user_data.em", "user_data.ge", "user_data"]
    assert result.warnings[-1].kind == WarningKind.WEAK_MATCH_KEYS
    assert "nobody" not in repr(result)


def test_given_no_usable_match_key_left_then_rejection_names_the_dropped_fields() -> None:
    raw = {**RAW_PURCHASE, "action_source": "email", "user_data": {"em": "nobody"}}
    result = normalize_event(raw, today=TODAY)
    assert result.event["user_data"] == {}
    assert NormalizationWarning("user_data", "no usable match key left") in result.warnings
    assert result.rejection == (
        "user_data has no usable match key left after normalization; dropped: user_data.em (not an email address)"
    )
    assert "nobody" not in result.rejection


def test_default_country_resolves_national_phone_numbers() -> None:
    raw = {**RAW_PURCHASE, "user_data": {"ph": "020 7946 0958", "client_user_agent": "UA"}}
    hashed = normalize_event(raw, default_country="GB", today=TODAY).event["user_data"]["ph"]
    assert len(hashed) == 1 and is_sha256_hex(hashed[0])
    assert (
        hashed
        == normalize_event({**raw, "user_data": {"ph": "+44 20 7946 0958", "client_user_agent": "UA"}}).event[
            "user_data"
        ]["ph"]
    )


def test_top_level_customer_segmentation_moves_into_custom_data() -> None:
    raw = {**RAW_PURCHASE, "customer_segmentation": "existing_customer_to_business",
           "custom_data": {"currency": "USD", "value": 1}}  # fmt: skip
    result = normalize_event(raw, today=TODAY)
    assert "customer_segmentation" not in result.event
    assert result.event["custom_data"]["customer_segmentation"] == ("existing_customer_to_business")
    assert [w.field for w in result.warnings] == ["customer_segmentation"]


def test_top_level_customer_segmentation_never_overrides_custom_data() -> None:
    raw = {**RAW_PURCHASE, "customer_segmentation": "existing_customer_to_business"}
    result = normalize_event(raw, today=TODAY)
    assert result.event["custom_data"]["customer_segmentation"] == "new_customer_to_business"
    assert "customer_segmentation" not in result.event


def test_event_without_custom_data_gets_one_only_for_customer_segmentation() -> None:
    raw = {key: value for key, value in RAW_PURCHASE.items() if key != "custom_data"}
    assert "custom_data" not in normalize_event(raw, today=TODAY).event
    moved = normalize_event({**raw, "customer_segmentation": "customer_in_loyalty_program"})
    assert moved.event["custom_data"] == {"customer_segmentation": "customer_in_loyalty_program"}
