"""A valid raw event becomes the staged/forwardable form (§2.1, §2.5, §3, §4)."""

import copy
import json
from datetime import date
from typing import Any

from integration_tests.support.example_events import PURCHASE, RAW_PURCHASE
from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import validate_event
from source_meta_capi.capi.user_data_normalization import (
    NormalizationWarning,
    WarningKind,
    is_sha256_hex,
)

NOW = 1764150060
TODAY = date(2025, 11, 26)


def test_raw_example_purchase_normalizes_to_the_fact_sheet_payload() -> None:
    assert validate_event(RAW_PURCHASE, NOW) == []
    result = normalize_event(RAW_PURCHASE, today=TODAY)
    assert result.warnings == ()
    assert result.event == PURCHASE


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
