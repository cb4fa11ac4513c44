"""Validate CAPI request bodies and server events before they are staged (fact sheet §1, §2).

Meta rejects a whole batch for one bad event (§1.2), so the receiver validates every event
up front and answers the caller with precise rejections instead. A rejection names the
event index, its event_id and the field; its reason never repeats a submitted value, since
values may be personal data.

This module is the entry points and the envelope: the batch shape, the fields every event has
(event_name, event_time, event_id, action_source) and the types of the optional top-level ones.
Each other part of an event is checked by a module of its own, called here in a fixed order
(the order of the rejections): user_data_validation.py, action_source_validation.py,
custom_data_validation.py, data_processing_validation.py. They report through a `reject(field,
reason)` callback and share the value predicates of value_checks.py, so none imports this module.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from source_meta_capi.capi.action_source_validation import check_action_source_requirements
from source_meta_capi.capi.custom_data_validation import check_custom_data
from source_meta_capi.capi.data_processing_validation import check_data_processing_options
from source_meta_capi.capi.event_fields import ACTION_SOURCES
from source_meta_capi.capi.payload_limits import check_event_limits
from source_meta_capi.capi.user_data_validation import check_user_data
from source_meta_capi.capi.value_checks import INTEGER_STRING, is_mapping, is_non_empty_string, is_one_of

MAX_EVENTS_PER_REQUEST: Final[int] = 1000
MAX_EVENT_AGE_SECONDS: Final[int] = 7 * 24 * 3600
MAX_PHYSICAL_STORE_AGE_SECONDS: Final[int] = 62 * 24 * 3600
MAX_FUTURE_SKEW_SECONDS: Final[int] = 60
# Meta documents no limit; event_id is a dedup key and part of our staged identity, so
# anything longer than an order number or UUID is treated as a caller bug.
MAX_EVENT_ID_LENGTH: Final[int] = 256
_MILLISECONDS_THRESHOLD: Final[int] = 10**11


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
    if not is_mapping(event):
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
    if not is_mapping(event):
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
    reject = check.reject
    check_user_data(event.get("user_data"), reject)
    check_action_source_requirements(event, reject)
    check_custom_data(event, reject)
    check_data_processing_options(event, reject)
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


def _check_required(event: Mapping[str, Any], check: _EventCheck) -> None:
    if not is_non_empty_string(event.get("event_name")):
        check.reject("event_name", "event_name is required and must be a non-empty string")
    if not is_mapping(event.get("user_data")):
        check.reject("user_data", "user_data is required and must be a JSON object")
    action_source = event.get("action_source")
    if action_source is None:
        check.reject("action_source", "action_source is required")
    elif not is_one_of(action_source, ACTION_SOURCES):
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
        isinstance(event_time, str) and INTEGER_STRING.fullmatch(event_time)
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
