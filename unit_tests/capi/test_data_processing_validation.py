"""Limited Data Use (§10.1): capi/data_processing_validation.py, through validate_event."""

from typing import Any

import pytest

from source_meta_capi.capi.data_processing_validation import check_data_processing_options
from source_meta_capi.capi.event_validation import validate_event
from unit_tests.capi.validation_events import NOW, fields, web_event


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


@pytest.mark.parametrize(("country", "state"), [("1", "1000"), ("0", "0"), (1, "1013")])
def test_given_digit_string_codes_when_checked_then_read_as_the_integers_they_spell(country: Any, state: Any) -> None:
    reported: list[tuple[str, str]] = []
    event = {
        "data_processing_options": ["LDU"],
        "data_processing_options_country": country,
        "data_processing_options_state": state,
    }
    check_data_processing_options(event, lambda *r: reported.append(r))
    assert reported == []


@pytest.mark.parametrize("code", [True, False, "1.0", " 1"])
def test_given_a_boolean_or_non_digit_country_when_checked_then_rejected(code: Any) -> None:
    reported: list[tuple[str, str]] = []
    event = {"data_processing_options": ["LDU"], "data_processing_options_country": code,
             "user_data": {"client_ip_address": "203.0.113.7"}}  # fmt: skip
    check_data_processing_options(event, lambda *r: reported.append(r))
    assert [field for field, _ in reported] == ["data_processing_options_country"]
