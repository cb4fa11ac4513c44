"""Validation of an event's custom_data: Purchase's value and currency, numbers, contents (fact sheet §4).

custom_data is the commerce part of an event. Its rules are Meta's parameter types plus two
decisions of ours (any ISO 4217 money code from pycountry; the same checks for every event, not
only Purchase), and they depend on nothing else in the event but its event_name; that, and the
currency list it alone loads, is why it stands apart from the envelope (event_validation.py).
Personal data in custom_data is not a validation matter: custom_data_privacy.py strips it.
"""

import functools
from collections.abc import Mapping
from typing import Any, Final

import pycountry

from source_meta_capi.capi.event_fields import DELIVERY_CATEGORIES
from source_meta_capi.capi.value_checks import (
    Reject,
    is_integer,
    is_mapping,
    is_non_empty_string,
    is_numeric,
    is_one_of,
)

# ISO 4217 codes that name no money: the testing code and "no currency".
_NON_MONEY_CURRENCIES: Final[frozenset[str]] = frozenset({"XTS", "XXX"})
_CUSTOM_DATA_NUMBERS: Final[tuple[str, ...]] = ("value", "net_revenue", "predicted_ltv")


@functools.cache
def _iso_4217_codes() -> frozenset[str]:
    return frozenset(str(currency.alpha_3) for currency in pycountry.currencies) - _NON_MONEY_CURRENCIES


def is_currency_code(value: Any) -> bool:
    """True for an ISO 4217 money code (pycountry's list), in either case: `USD`, `usd`."""
    return isinstance(value, str) and len(value) == 3 and value.upper() in _iso_4217_codes()


def check_custom_data(event: Mapping[str, Any], reject: Reject) -> None:
    """custom_data is an object of well-typed parameters; a Purchase carries value and currency.

    Numbers are numbers (or decimal strings), currency is an ISO 4217 code, `contents` items are
    objects with an id, `num_items` is an integer.
    """
    custom_data = event.get("custom_data")
    if custom_data is not None and not is_mapping(custom_data):
        reject("custom_data", "custom_data must be a JSON object")
        return
    custom_data = custom_data or {}
    if event.get("event_name") == "Purchase":
        # §4: Meta answers 2804009 for a Purchase without value; Segment requires currency.
        if custom_data.get("value") is None:
            reject("custom_data.value", "Purchase events need a numeric custom_data.value")
        if custom_data.get("currency") is None:
            reject(
                "custom_data.currency",
                "Purchase events need custom_data.currency as a 3-letter ISO 4217 code",
            )
    if not custom_data:
        return
    for name in _CUSTOM_DATA_NUMBERS:
        value = custom_data.get(name)
        if value is not None and not is_numeric(value):
            reject(f"custom_data.{name}", f"custom_data.{name} must be a number")
    currency = custom_data.get("currency")
    if currency is not None and not is_currency_code(currency):
        reject("custom_data.currency", "custom_data.currency must be an ISO 4217 currency code such as USD")
    num_items = custom_data.get("num_items")
    if num_items is not None and not is_integer(num_items):
        reject("custom_data.num_items", "custom_data.num_items must be an integer")
    content_ids = custom_data.get("content_ids")
    if content_ids is not None and not (
        isinstance(content_ids, list) and all(_is_identifier(item) for item in content_ids)
    ):
        reject("custom_data.content_ids", "custom_data.content_ids must be an array of strings")
    _check_contents(custom_data.get("contents"), reject)
    delivery = custom_data.get("delivery_category")
    if delivery is not None and not is_one_of(delivery, DELIVERY_CATEGORIES):
        reject(
            "custom_data.delivery_category",
            f"custom_data.delivery_category must be one of {', '.join(sorted(DELIVERY_CATEGORIES))}",
        )


def _is_identifier(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return bool(value.strip())
    if kind is int:
        return True
    return is_non_empty_string(value) or (isinstance(value, int) and not isinstance(value, bool))


def _check_contents(contents: Any, reject: Reject) -> None:
    """§4: `contents` is an array of objects, each with an id; quantity and prices are numbers."""
    if contents is None:
        return
    if not isinstance(contents, list):
        reject("custom_data.contents", "custom_data.contents must be an array of objects")
        return
    for position, item in enumerate(contents):
        where = f"custom_data.contents[{position}]"
        if not is_mapping(item):
            reject(where, f"{where} must be an object")
            continue
        if not _is_identifier(item.get("id")):
            reject(f"{where}.id", f"{where}.id is required and must be a string")
        quantity = item.get("quantity")
        if quantity is not None and not is_integer(quantity):
            reject(f"{where}.quantity", f"{where}.quantity must be an integer")
        price = item.get("item_price")
        if price is not None and not is_numeric(price):
            reject(f"{where}.item_price", f"{where}.item_price must be a number")
        delivery = item.get("delivery_category")
        if delivery is not None and not is_one_of(delivery, DELIVERY_CATEGORIES):
            reject(f"{where}.delivery_category", f"{where}.delivery_category is not a known delivery category")
