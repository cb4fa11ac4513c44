"""Turn a validated server event into the form that is staged and forwarded to Meta.

Raw personal data never reaches a store (DESIGN.md), so this is the last point at which
it exists: user_data is normalized and hashed (fact sheet §3), custom_data loses its
personal data keys (§4, §10.2), and fields Meta does not define (§2.1) are dropped.
"""

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeGuard

from source_meta_capi.capi.custom_data_privacy import scrub_url, strip_pii
from source_meta_capi.capi.event_fields import SERVER_EVENT_FIELDS, WEAK_MATCH_KEY_COMBINATIONS
from source_meta_capi.capi.user_data_normalization import (
    NormalizationWarning,
    WarningKind,
    normalize_user_data,
)


@dataclass(frozen=True)
class NormalizedEvent:
    """A staged/forwardable server event and what normalization changed or dropped.

    `warnings` name fields (for user_data values, custom_data key paths and dropped
    top-level fields) and never contain submitted values.
    """

    event: dict[str, Any]
    warnings: tuple[NormalizationWarning, ...]
    rejection: str | None = None
    """Why the event must not be forwarded although validation accepted it: its user_data
    had match keys, but none survived normalization. Names the dropped fields, never values."""

    @property
    def stripped_custom_data_keys(self) -> tuple[str, ...]:
        """Paths of custom_data keys removed as personal data, e.g. `contents[0].email`."""
        prefix = "custom_data."
        return tuple(
            warning.field[len(prefix) :]
            for warning in self.warnings
            if warning.field.startswith(prefix) and warning.reason == _PII_REASON
        )


_PII_REASON = "dropped: personal data key in custom_data"
_PII_OUTSIDE_REASON = "dropped: personal data outside user_data"
_PII_URL_REASON = "dropped: URL query parameter with personal data"
_REBUILT_FIELDS = frozenset({"user_data", "custom_data"})
_NUMERIC_CUSTOM_DATA = ("value", "net_revenue", "predicted_ltv")
_BOOLEAN_STRINGS = {"true": True, "false": False}
_LARGEST_WEAK_COMBINATION = max(len(combination) for combination in WEAK_MATCH_KEY_COMBINATIONS)


def weak_match_keys(user_data: Mapping[str, Any]) -> bool:
    """True when user_data's keys are one of Meta's too-thin combinations or a subset of one
    (§2.2: `fn+ge`, `ln+ge`, `db+client_user_agent`, `ct+country+st+zp+ge+client_user_agent`)."""
    keys = user_data.keys()
    if not keys or len(keys) > _LARGEST_WEAK_COMBINATION:
        return False  # the usual, well-filled user_data answers here
    return any(keys <= combination for combination in WEAK_MATCH_KEY_COMBINATIONS)


def normalize_event(
    event: Mapping[str, Any],
    default_country: str | None = None,
    today: date | None = None,
) -> NormalizedEvent:
    """Normalize one event that `validate_event` accepted; the input is not modified and
    the result shares no mutable object with it.

    - Top-level keys outside Meta's server-event fields (§2.1) are dropped with a warning.
    - event_id becomes a string (integers are accepted by validation); event_time an int.
    - user_data is hashed by `normalize_user_data` with `default_country` as fallback.
    - custom_data loses personal data keys at every depth.
    - A top-level `customer_segmentation` moves into custom_data unless custom_data has
      one: Meta's own example puts it there and top-level placement has drawn error 100.
    - Values validation accepts as strings get Meta's types: a digit-string event_time and
      LDU codes become ints, `"true"`/`"false"` opt_out a bool, decimal-string custom_data
      numbers (value, net_revenue, predicted_ltv, contents[].item_price) numbers, and
      num_items / contents[].quantity ints.
    - user_data whose every value normalizes away sets `rejection` (the caller dead-letters
      the event); user_data left with only a weak combination of keys gets a
      `weak_match_keys` warning.
    """
    warnings: list[NormalizationWarning] = []
    normalized: dict[str, Any] = {}
    rejection: str | None = None
    for key, value in event.items():
        if key in SERVER_EVENT_FIELDS:
            # user_data and custom_data objects are rebuilt below (never modified), so only the
            # other fields are copied; a deepcopy of every field was ~18 µs of each event.
            normalized[key] = value if key in _REBUILT_FIELDS and _is_mapping(value) else _copy(value)
        else:
            warnings.append(
                NormalizationWarning(str(key), "dropped: not a server event field", WarningKind.NOT_SERVER_EVENT_FIELD)
            )

    if normalized.get("event_id") is not None:
        normalized["event_id"] = str(normalized["event_id"])
    else:
        normalized.pop("event_id", None)
    _coerce_types(normalized)

    raw_user_data = normalized.get("user_data")
    if _is_mapping(raw_user_data):
        result = normalize_user_data(raw_user_data, default_country, today)
        normalized["user_data"] = result.user_data
        if result.warnings:
            warnings.extend(
                NormalizationWarning(f"user_data.{warning.field}", warning.reason, warning.kind)
                for warning in result.warnings
            )
        if not result.user_data:
            dropped = sorted(
                {
                    f"user_data.{warning.field} ({warning.reason.removeprefix('dropped: ')})"
                    for warning in result.warnings
                }
            )
            rejection = "user_data has no usable match key left after normalization" + (
                f"; dropped: {', '.join(dropped)}" if dropped else ""
            )
            warnings.append(NormalizationWarning("user_data", "no usable match key left", WarningKind.NO_MATCH_KEY))
        elif weak_match_keys(result.user_data):
            warnings.append(
                NormalizationWarning(
                    "user_data",
                    "only a weak combination of match keys: " + "+".join(sorted(result.user_data)),
                    WarningKind.WEAK_MATCH_KEYS,
                )
            )

    _move_customer_segmentation(normalized, warnings)

    custom_data = normalized.get("custom_data")
    if _is_mapping(custom_data):
        cleaned = strip_pii(custom_data)
        normalized["custom_data"] = cleaned.custom_data
        if cleaned.stripped_keys:
            warnings.extend(
                NormalizationWarning(f"custom_data.{path}", _PII_REASON, WarningKind.PII_IN_CUSTOM_DATA)
                for path in cleaned.stripped_keys
            )
    _strip_pii_outside_user_data(normalized, warnings)
    return NormalizedEvent(normalized, tuple(warnings), rejection)


# Free-form objects besides custom_data, and the URLs, that Meta forwards as sent: the same
# strip policy applies to them (docs/normalization.md "Personal data outside user_data").
_FREE_FORM_FIELDS = ("original_event_data", "attribution_data", "app_data")
_URL_FIELDS = ("event_source_url", "referrer_url")


def _strip_pii_outside_user_data(normalized: dict[str, Any], warnings: list[NormalizationWarning]) -> None:
    for name in _FREE_FORM_FIELDS:
        value = normalized.get(name)
        if _is_mapping(value):
            cleaned = strip_pii(value)
            normalized[name] = cleaned.custom_data
            warnings.extend(
                NormalizationWarning(f"{name}.{path}", _PII_OUTSIDE_REASON, WarningKind.PII_IN_CUSTOM_DATA)
                for path in cleaned.stripped_keys
            )
    for name in _URL_FIELDS:
        url = normalized.get(name)
        if type(url) is str and "?" in url:
            scrubbed, removed = scrub_url(url)
            if removed:
                normalized[name] = scrubbed
                warnings.extend(
                    NormalizationWarning(f"{name}?{parameter}", _PII_URL_REASON, WarningKind.PII_IN_CUSTOM_DATA)
                    for parameter in removed
                )


def _coerce_types(normalized: dict[str, Any]) -> None:
    """Give fields that validation accepts as strings the types Meta documents (§2.1, §4)."""
    event_time = normalized.get("event_time")
    if isinstance(event_time, float) or _is_digits(event_time):
        normalized["event_time"] = int(event_time)
    opt_out = normalized.get("opt_out")
    if isinstance(opt_out, str) and opt_out.lower() in _BOOLEAN_STRINGS:
        normalized["opt_out"] = _BOOLEAN_STRINGS[opt_out.lower()]
    for name in ("data_processing_options_country", "data_processing_options_state"):
        code = normalized.get(name)
        if _is_digits(code):
            normalized[name] = int(code)
    custom_data = normalized.get("custom_data")
    if type(custom_data) is dict:
        coerced = _coerced_custom_data(custom_data)
        if coerced is not None:
            normalized["custom_data"] = coerced


def _coerced_custom_data(custom_data: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of custom_data with numbers sent as strings made numbers, or None if none is.

    custom_data may still be the caller's object here (strip_pii rebuilds it later), so it is
    never modified in place."""
    changes: dict[str, Any] = {}
    for name in _NUMERIC_CUSTOM_DATA:
        if type(custom_data.get(name)) is str:
            changes[name] = _number(custom_data[name])
    num_items = custom_data.get("num_items")
    if (isinstance(num_items, float) and num_items.is_integer()) or _is_digits(num_items):
        changes["num_items"] = int(num_items)
    contents = custom_data.get("contents")
    if type(contents) is list and any(type(item) is dict and _needs_coercion(item) for item in contents):
        changes["contents"] = [_coerced_content(item) if type(item) is dict else item for item in contents]
    return {**custom_data, **changes} if changes else None


def _needs_coercion(item: dict[str, Any]) -> bool:
    quantity, price = item.get("quantity"), item.get("item_price")
    return type(quantity) is str or type(quantity) is float or type(price) is str


def _coerced_content(item: dict[str, Any]) -> dict[str, Any]:
    coerced = dict(item)
    quantity = item.get("quantity")
    if _is_digits(quantity) or (isinstance(quantity, float) and quantity.is_integer()):
        coerced["quantity"] = int(quantity)
    if type(item.get("item_price")) is str:
        coerced["item_price"] = _number(item["item_price"])
    return coerced


def _is_digits(value: Any) -> TypeGuard[str]:
    return type(value) is str and value.isascii() and value.isdigit()


def _number(text: str) -> Any:
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text  # validation refused it already; not this function's call


def _is_mapping(value: Any) -> TypeGuard[Mapping[Any, Any]]:
    # isinstance() against the Mapping ABC costs several times this exact test for a dict.
    return type(value) is dict or isinstance(value, Mapping)


def _copy(value: Any) -> Any:
    """copy.deepcopy, fast for what JSON parsers produce (dict, list, str, int, float, bool, None)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {key if type(key) is str else copy.deepcopy(key): _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return copy.deepcopy(value)


def _move_customer_segmentation(normalized: dict[str, Any], warnings: list[NormalizationWarning]) -> None:
    if "customer_segmentation" not in normalized:
        return
    segmentation = normalized.pop("customer_segmentation")
    custom_data = normalized.get("custom_data")
    if custom_data is None:
        custom_data = normalized["custom_data"] = {}
    if isinstance(custom_data, dict) and "customer_segmentation" not in custom_data:
        # custom_data may still be the caller's object (it is rebuilt by strip_pii later).
        custom_data = normalized["custom_data"] = {**custom_data, "customer_segmentation": segmentation}
        reason = "moved into custom_data where Meta expects it"
    else:
        reason = "dropped: custom_data already has customer_segmentation"
    warnings.append(NormalizationWarning("customer_segmentation", reason, WarningKind.CUSTOMER_SEGMENTATION))
