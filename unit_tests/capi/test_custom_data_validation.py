"""custom_data (§4): Purchase's value and currency, numbers, currencies; capi/custom_data_validation.py,
through validate_event."""

from typing import Any

import pytest

from source_meta_capi.capi.custom_data_validation import check_custom_data, is_currency_code
from source_meta_capi.capi.event_validation import validate_event
from unit_tests.capi.validation_events import NOW, fields, web_event


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


@pytest.mark.parametrize(("code", "expected"), [("USD", True), ("usd", True), ("XTS", False), ("XXX", False),
                                                ("US", False), (840, False), (None, False)])  # fmt: skip
def test_given_a_value_when_checked_as_currency_then_only_iso_4217_money_codes(code: Any, expected: bool) -> None:
    assert is_currency_code(code) is expected


def test_given_contents_items_when_checked_then_each_problem_named_by_position() -> None:
    reported: list[tuple[str, str]] = []
    event = {
        "event_name": "AddToCart",
        "custom_data": {"contents": [{"id": "a"}, "b", {"quantity": 1.5, "item_price": "x"}]},
    }
    check_custom_data(event, lambda *r: reported.append(r))
    assert [field for field, _ in reported] == [
        "custom_data.contents[1]",
        "custom_data.contents[2].id",
        "custom_data.contents[2].quantity",
        "custom_data.contents[2].item_price",
    ]
