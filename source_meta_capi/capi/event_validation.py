"""Validate CAPI request bodies and server events before they are staged (fact sheet §1, §2).

Meta rejects a whole batch for one bad event (§1.2), so the receiver validates every event
up front and answers the caller with precise rejections instead. A rejection names the
event index, its event_id and the field; its reason never repeats a submitted value, since
values may be personal data.
"""

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

import pycountry

from source_meta_capi.capi.event_fields import (
    ACTION_SOURCES,
    APP_DATA_REQUIRED_FIELDS,
    DELIVERY_CATEGORIES,
    EXTINFO_LENGTH,
    EXTINFO_OS_VERSION_SLOT,
    EXTINFO_VERSIONS,
    HASHED_USER_DATA_KEYS,
    LDU_COUNTRY_CODES,
    LDU_OPTION,
    LDU_STATE_CODES,
    MATCH_KEYS,
    PLAIN_USER_DATA_KEYS,
)
from source_meta_capi.capi.payload_limits import check_event_limits

MAX_EVENTS_PER_REQUEST: Final[int] = 1000
MAX_EVENT_AGE_SECONDS: Final[int] = 7 * 24 * 3600
MAX_PHYSICAL_STORE_AGE_SECONDS: Final[int] = 62 * 24 * 3600
MAX_FUTURE_SKEW_SECONDS: Final[int] = 60
# Meta documents no limit; event_id is a dedup key and part of our staged identity, so
# anything longer than an order number or UUID is treated as a caller bug.
MAX_EVENT_ID_LENGTH: Final[int] = 256
_MILLISECONDS_THRESHOLD: Final[int] = 10**11
# A JSON number written as a string: what form-encoded senders and many SDKs send. Decimal
# notation only (no exponent, no `inf`/`nan`, no spaces), so `float()` cannot surprise.
_DECIMAL_STRING: Final[re.Pattern[str]] = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_INTEGER_STRING: Final[re.Pattern[str]] = re.compile(r"[0-9]{1,15}")
# ISO 4217 codes that name no money: the testing code and "no currency".
_NON_MONEY_CURRENCIES: Final[frozenset[str]] = frozenset({"XTS", "XXX"})
_CUSTOM_DATA_NUMBERS: Final[tuple[str, ...]] = ("value", "net_revenue", "predicted_ltv")


@dataclass(frozen=True)
class EventRejection:
    """Why one event (or, with `index` None, the whole request body) was refused."""

    index: int | None
    event_id: str | None
    field: str
    reason: str


@dataclass(frozen=True)
class BatchValidation:
    """The outcome of `validate_batch`: which events may be staged and why others not."""

    valid_indices: tuple[int, ...]
    rejections: tuple[EventRejection, ...]
    test_event_code: str | None = None
    partner_agent: str | None = None

    @property
    def body_rejected(self) -> bool:
        """True when the request body itself is unusable (no event can be staged)."""
        return any(rejection.index is None for rejection in self.rejections)


def event_id_of(event: Any) -> str | None:
    """The event's event_id as a string, or None if absent or not a string/integer."""
    if not _is_mapping(event):
        return None
    event_id = event.get("event_id")
    if isinstance(event_id, bool):
        return None
    if isinstance(event_id, str | int):
        return str(event_id)
    return None


def validate_event(event: Any, now: float, index: int = 0) -> list[EventRejection]:
    """Every reason Meta would refuse `event`, judged at Unix time `now`; empty if valid.

    Decisions where Meta leaves a choice (fact sheet §1.2, §2.1):
    - event_time must be an integer number of seconds: an int, an integral float such as
      `1764150000.0`, or a string of digits (form-encoded senders send nothing else; the
      Graph API reads parameters from strings). Booleans and fractions are refused.
      Normalization forwards it as an int, the type Meta's SDK checks.
    - event_time may be at most 7 days old (62 for physical_store) and at most 60 s in
      the future. Small future skew is accepted as sent, not clamped: event_time is part
      of the staged identity and a clamped value would differ between retries.
    - event_id, when present, is a non-empty string of at most 256 characters, or an
      integer (order numbers), which normalization turns into a string.
    - user_data needs at least one match key; an event Meta cannot match is useless.
      (Normalization then rejects an event whose match keys all normalize away.)
    - custom_data is checked for every event, not only Purchase: numbers are numbers (or
      decimal strings), currency is an ISO 4217 code from pycountry, `contents` items are
      objects with an id, `num_items` is an integer.
    - Size limits (capi/payload_limits.py) come first: nesting depth, list lengths (user_data
      lists included), string and key lengths, keys per object. An event past one is refused
      with that reason alone.
    - opt_out is a boolean or the string `true`/`false`; data_processing_options holds only
      `LDU`; the LDU country and state codes may be integers or digit strings.
    """
    if not _is_mapping(event):
        return [EventRejection(index, None, "event", "event must be a JSON object")]
    check = _EventCheck(index, event_id_of(event))
    # First, and alone: every later check (and normalization, hashing, encoding) walks the
    # event, and an event past a process limit must be refused before any of them runs.
    exceeded = check_event_limits(event)
    if exceeded is not None:
        check.reject(exceeded.field, f"{exceeded.field} {exceeded.reason}")
        return check.rejections
    _check_required(event, check)
    _check_event_time(event, now, check)
    _check_event_id(event, check)
    _check_user_data(event.get("user_data"), check)
    _check_action_source_requirements(event, check)
    _check_custom_data(event, check)
    _check_data_processing_options(event, check)
    _check_optional_types(event, check)
    return check.rejections


def validate_batch(body: Any, now: float) -> BatchValidation:
    """Validate a CAPI request body (§1.1): `data` plus optional main-body fields.

    `data` must be a list of 1 to 1000 events; `test_event_code` and `partner_agent`, when
    present, must be strings. Other main-body keys (upload_tag, namespace_id, …, and even
    access_token) are tolerated but not carried forward. A repeated (event_name, event_id)
    pair is accepted as Meta accepts it: Meta keeps the first and drops the rest (§5), and
    the source's identity filter does the same with the staged copies.
    """
    if not isinstance(body, Mapping):
        return _body_rejection("body", "request body must be a JSON object")
    data = body.get("data")
    if not isinstance(data, list):
        return _body_rejection("data", "data must be a JSON array of events")
    if not 1 <= len(data) <= MAX_EVENTS_PER_REQUEST:
        return _body_rejection(
            "data",
            f"data must hold 1 to {MAX_EVENTS_PER_REQUEST} events, got {len(data)}",
        )
    strings: dict[str, str | None] = {}
    for name in ("test_event_code", "partner_agent"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return _body_rejection(name, f"{name} must be a string")
        strings[name] = value
    valid: list[int] = []
    rejections: list[EventRejection] = []
    for index, event in enumerate(data):
        event_rejections = validate_event(event, now, index)
        if event_rejections:
            rejections.extend(event_rejections)
            continue
        valid.append(index)
    return BatchValidation(
        tuple(valid),
        tuple(rejections),
        strings["test_event_code"],
        strings["partner_agent"],
    )


class _EventCheck:
    """Collects rejections for one event."""

    def __init__(self, index: int, event_id: str | None) -> None:
        self.index = index
        self.event_id = event_id
        self.rejections: list[EventRejection] = []

    def reject(self, field: str, reason: str) -> None:
        self.rejections.append(EventRejection(self.index, self.event_id, field, reason))


def _body_rejection(field: str, reason: str) -> BatchValidation:
    return BatchValidation((), (EventRejection(None, None, field, reason),))


def _is_mapping(value: Any) -> TypeGuard[Mapping[Any, Any]]:
    # isinstance() against the Mapping ABC is several times slower than this exact type test,
    # and parsed JSON objects are always plain dicts.
    return type(value) is dict or isinstance(value, Mapping)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _is_numeric(value: Any) -> bool:
    """A finite JSON number or a decimal string (`"12.50"`), which normalization makes a number."""
    kind = type(value)
    # Exact types first: what a JSON parser produces, checked without the isinstance chain.
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return True
    return _is_number(value) or (isinstance(value, str) and _DECIMAL_STRING.fullmatch(value) is not None)


def _is_integer(value: Any) -> bool:
    if type(value) is int:
        return True
    if isinstance(value, float):
        return value.is_integer()
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _INTEGER_STRING.fullmatch(value) is not None
    )


@functools.cache
def _iso_4217_codes() -> frozenset[str]:
    return frozenset(str(currency.alpha_3) for currency in pycountry.currencies) - _NON_MONEY_CURRENCIES


def is_currency_code(value: Any) -> bool:
    """True for an ISO 4217 money code (pycountry's list), in either case: `USD`, `usd`."""
    return isinstance(value, str) and len(value) == 3 and value.upper() in _iso_4217_codes()


def _is_one_of(value: Any, allowed: frozenset[Any]) -> bool:
    # Set membership hashes the value: a JSON array or object there raised TypeError (a 500 on
    # hostile input, found by the reliability fuzz suite) instead of a rejection.
    return isinstance(value, str | int) and value in allowed


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_required(event: Mapping[str, Any], check: _EventCheck) -> None:
    if not _non_empty_string(event.get("event_name")):
        check.reject("event_name", "event_name is required and must be a non-empty string")
    if not _is_mapping(event.get("user_data")):
        check.reject("user_data", "user_data is required and must be a JSON object")
    action_source = event.get("action_source")
    if action_source is None:
        check.reject("action_source", "action_source is required")
    elif not _is_one_of(action_source, ACTION_SOURCES):
        check.reject(
            "action_source",
            f"action_source must be one of {', '.join(sorted(ACTION_SOURCES))}",
        )


def _check_event_time(event: Mapping[str, Any], now: float, check: _EventCheck) -> None:
    event_time = event.get("event_time")
    if event_time is None:
        check.reject("event_time", "event_time is required")
        return
    if (isinstance(event_time, float) and event_time.is_integer()) or (
        isinstance(event_time, str) and _INTEGER_STRING.fullmatch(event_time)
    ):
        event_time = int(event_time)
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        check.reject("event_time", "event_time must be an integer of Unix seconds")
        return
    if event_time > now + MAX_FUTURE_SKEW_SECONDS:
        hint = " (it looks like milliseconds)" if event_time > _MILLISECONDS_THRESHOLD else ""
        check.reject(
            "event_time",
            f"event_time is more than {MAX_FUTURE_SKEW_SECONDS} s in the future{hint}",
        )
        return
    # §1.2: one stale event makes Meta refuse the whole request (error 2804003).
    physical = event.get("action_source") == "physical_store"
    max_age = MAX_PHYSICAL_STORE_AGE_SECONDS if physical else MAX_EVENT_AGE_SECONDS
    if now - event_time > max_age:
        days = max_age // (24 * 3600)
        check.reject("event_time", f"event_time is more than {days} days old")


def _check_event_id(event: Mapping[str, Any], check: _EventCheck) -> None:
    if "event_id" not in event or event["event_id"] is None:
        return
    event_id = event["event_id"]
    if isinstance(event_id, bool) or not isinstance(event_id, str | int):
        check.reject("event_id", "event_id must be a string")
    elif isinstance(event_id, str) and not event_id.strip():
        check.reject("event_id", "event_id must not be empty")
    elif len(str(event_id)) > MAX_EVENT_ID_LENGTH:
        check.reject("event_id", f"event_id is longer than {MAX_EVENT_ID_LENGTH} characters")


def _check_user_data(user_data: Any, check: _EventCheck) -> None:
    if not _is_mapping(user_data):
        return
    # One pass over the keys (this check was half of validation's time); rejections still come
    # hashed keys first, then plain ones, each in sorted order.
    bad_hashed: list[str] = []
    bad_plain: list[str] = []
    matchable = False
    for key, value in user_data.items():
        if key in HASHED_USER_DATA_KEYS:
            if isinstance(value, list):
                if not all(_is_hashable_value(item) for item in value):
                    bad_hashed.append(key)
            elif not _is_hashable_value(value):
                bad_hashed.append(key)
        elif key in PLAIN_USER_DATA_KEYS and not _is_plain_value(value):
            bad_plain.append(key)
        if not matchable and key in MATCH_KEYS:
            matchable = _has_value(value)
    for key in sorted(bad_hashed):
        check.reject(f"user_data.{key}", f"user_data.{key} must be a string or list of strings")
    for key in sorted(bad_plain):
        check.reject(f"user_data.{key}", f"user_data.{key} must be a string")
    if not matchable:
        check.reject("user_data", "user_data has no customer information parameter to match on")


def _is_hashable_value(item: Any) -> bool:
    kind = type(item)
    if kind is str or kind is int or item is None:
        return True
    return not isinstance(item, bool) and isinstance(item, str | int)


def _is_plain_value(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, str | int))


def _has_value(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_value(item) for item in value)
    if isinstance(value, str):
        return value.strip() != ""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_action_source_requirements(event: Mapping[str, Any], check: _EventCheck) -> None:
    action_source = event.get("action_source")
    user_data = event.get("user_data")
    if action_source == "website":
        # §2.2 [D M5]: website events need the page URL and the browser's user agent.
        url = event.get("event_source_url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            check.reject(
                "event_source_url",
                "website events need an event_source_url starting with http:// or https://",
            )
        if _is_mapping(user_data) and not _non_empty_string(user_data.get("client_user_agent")):
            check.reject(
                "user_data.client_user_agent",
                "website events need user_data.client_user_agent",
            )
    elif action_source == "app":
        _check_app_data(event.get("app_data"), check)
    # §2.1: only `whatsapp` is a confirmed literal, so any non-empty channel passes.
    elif action_source == "business_messaging" and not _non_empty_string(event.get("messaging_channel")):
        check.reject("messaging_channel", "business_messaging events need a messaging_channel")


def _check_app_data(app_data: Any, check: _EventCheck) -> None:
    if not _is_mapping(app_data):
        check.reject("app_data", "app events need an app_data object")
        return
    for name in APP_DATA_REQUIRED_FIELDS:
        if name not in app_data:
            check.reject(f"app_data.{name}", f"app events need app_data.{name}")
    for name in ("advertiser_tracking_enabled", "application_tracking_enabled"):
        # Segment sends 1/0 for these booleans (§2.3), so both spellings pass.
        if name in app_data and app_data[name] not in (True, False, 0, 1):
            check.reject(f"app_data.{name}", f"app_data.{name} must be a boolean")
    extinfo = app_data.get("extinfo")
    if "extinfo" not in app_data:
        return
    if not (
        isinstance(extinfo, list)
        and len(extinfo) == EXTINFO_LENGTH
        and all(isinstance(slot, str) or _is_number(slot) for slot in extinfo)
    ):
        check.reject(
            "app_data.extinfo",
            f"app_data.extinfo must be an array of {EXTINFO_LENGTH} strings ('' when unknown)",
        )
        return
    # §2.3: slot 0 is the platform (`a2` Android, `i2` iOS), slot 4 the required OS version.
    if extinfo[0] not in EXTINFO_VERSIONS:
        check.reject("app_data.extinfo", "app_data.extinfo[0] must be 'a2' (Android) or 'i2' (iOS)")
    os_version = extinfo[EXTINFO_OS_VERSION_SLOT]
    if not (_non_empty_string(os_version) or _is_number(os_version)):
        check.reject("app_data.extinfo", f"app_data.extinfo[{EXTINFO_OS_VERSION_SLOT}] (OS version) is required")


def _check_custom_data(event: Mapping[str, Any], check: _EventCheck) -> None:
    custom_data = event.get("custom_data")
    if custom_data is not None and not _is_mapping(custom_data):
        check.reject("custom_data", "custom_data must be a JSON object")
        return
    custom_data = custom_data or {}
    if event.get("event_name") == "Purchase":
        # §4: Meta answers 2804009 for a Purchase without value; Segment requires currency.
        if custom_data.get("value") is None:
            check.reject("custom_data.value", "Purchase events need a numeric custom_data.value")
        if custom_data.get("currency") is None:
            check.reject(
                "custom_data.currency",
                "Purchase events need custom_data.currency as a 3-letter ISO 4217 code",
            )
    if not custom_data:
        return
    for name in _CUSTOM_DATA_NUMBERS:
        value = custom_data.get(name)
        if value is not None and not _is_numeric(value):
            check.reject(f"custom_data.{name}", f"custom_data.{name} must be a number")
    currency = custom_data.get("currency")
    if currency is not None and not is_currency_code(currency):
        check.reject("custom_data.currency", "custom_data.currency must be an ISO 4217 currency code such as USD")
    num_items = custom_data.get("num_items")
    if num_items is not None and not _is_integer(num_items):
        check.reject("custom_data.num_items", "custom_data.num_items must be an integer")
    content_ids = custom_data.get("content_ids")
    if content_ids is not None and not (
        isinstance(content_ids, list) and all(_is_identifier(item) for item in content_ids)
    ):
        check.reject("custom_data.content_ids", "custom_data.content_ids must be an array of strings")
    _check_contents(custom_data.get("contents"), check)
    delivery = custom_data.get("delivery_category")
    if delivery is not None and not _is_one_of(delivery, DELIVERY_CATEGORIES):
        check.reject(
            "custom_data.delivery_category",
            f"custom_data.delivery_category must be one of {', '.join(sorted(DELIVERY_CATEGORIES))}",
        )


def _is_identifier(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return bool(value.strip())
    if kind is int:
        return True
    return _non_empty_string(value) or (isinstance(value, int) and not isinstance(value, bool))


def _check_contents(contents: Any, check: _EventCheck) -> None:
    """§4: `contents` is an array of objects, each with an id; quantity and prices are numbers."""
    if contents is None:
        return
    if not isinstance(contents, list):
        check.reject("custom_data.contents", "custom_data.contents must be an array of objects")
        return
    for position, item in enumerate(contents):
        where = f"custom_data.contents[{position}]"
        if not _is_mapping(item):
            check.reject(where, f"{where} must be an object")
            continue
        if not _is_identifier(item.get("id")):
            check.reject(f"{where}.id", f"{where}.id is required and must be a string")
        quantity = item.get("quantity")
        if quantity is not None and not _is_integer(quantity):
            check.reject(f"{where}.quantity", f"{where}.quantity must be an integer")
        price = item.get("item_price")
        if price is not None and not _is_numeric(price):
            check.reject(f"{where}.item_price", f"{where}.item_price must be a number")
        delivery = item.get("delivery_category")
        if delivery is not None and not _is_one_of(delivery, DELIVERY_CATEGORIES):
            check.reject(f"{where}.delivery_category", f"{where}.delivery_category is not a known delivery category")


def _check_data_processing_options(event: Mapping[str, Any], check: _EventCheck) -> None:
    options = event.get("data_processing_options")
    if options is None:
        return
    if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
        check.reject(
            "data_processing_options",
            "data_processing_options must be an array of strings",
        )
        return
    # §10.1: `LDU` is the only option Meta defines; anything else is a sender bug.
    if any(option != LDU_OPTION for option in options):
        check.reject("data_processing_options", f"data_processing_options may only hold {LDU_OPTION!r}")
        return
    if LDU_OPTION not in options:
        return
    # §10.1: LDU needs a country (1 = USA, 0 = geolocate); a state is needed without an IP.
    country = _code(event.get("data_processing_options_country"))
    if isinstance(country, bool) or not _is_one_of(country, LDU_COUNTRY_CODES):
        check.reject(
            "data_processing_options_country",
            "LDU needs data_processing_options_country 1 (USA) or 0 (geolocate)",
        )
    state = _code(event.get("data_processing_options_state"))
    user_data = event.get("user_data")
    has_ip = _is_mapping(user_data) and _has_value(user_data.get("client_ip_address"))
    if state is None:
        if not has_ip:
            check.reject(
                "data_processing_options_state",
                "LDU without client_ip_address needs data_processing_options_state",
            )
    elif isinstance(state, bool) or not _is_one_of(state, LDU_STATE_CODES):
        check.reject(
            "data_processing_options_state",
            "data_processing_options_state must be 0 or a documented state code (1000-1013)",
        )


def _code(value: Any) -> Any:
    """An LDU country or state code; digit strings (`"1000"`) read as the integer they spell."""
    if isinstance(value, str) and _INTEGER_STRING.fullmatch(value):
        return int(value)
    return value


# Strings Meta's bool parameters are sent as by form-encoded senders; normalization makes them bools.
BOOLEAN_STRINGS: Final[dict[str, bool]] = {"true": True, "false": False}

_OPTIONAL_TYPES: Final[tuple[tuple[str, type, str], ...]] = (
    ("event_source_url", str, "a string"),
    ("referrer_url", str, "a string"),
    ("messaging_channel", str, "a string"),
    ("original_event_data", Mapping, "a JSON object"),
    ("attribution_data", Mapping, "a JSON object"),
    ("app_data", Mapping, "a JSON object"),
    ("advanced_measurement_table", str, "a string"),
    ("customer_segmentation", str, "a string"),
)


def _check_optional_types(event: Mapping[str, Any], check: _EventCheck) -> None:
    opt_out = event.get("opt_out")
    if opt_out is not None and not (
        isinstance(opt_out, bool) or (isinstance(opt_out, str) and opt_out.lower() in BOOLEAN_STRINGS)
    ):
        check.reject("opt_out", "opt_out must be a boolean")
    for name, expected, description in _OPTIONAL_TYPES:
        value = event.get(name)
        if value is not None and not isinstance(value, expected):
            already = any(rejection.field == name for rejection in check.rejections)
            if not already:
                check.reject(name, f"{name} must be {description}")
