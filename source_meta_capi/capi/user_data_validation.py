"""Validation of an event's user_data: value types per key, and at least one match key (fact sheet §3.1).

user_data is the part of an event that holds personal data and the part Meta matches on; its
rules come from the hashed/plain split of event_fields.py, not from the envelope's, and it was
half of validation's time, so it is checked in one pass of its own. Whether user_data is an
object at all is the envelope's required-field check (event_validation.py).
"""

from typing import Any

from source_meta_capi.capi.event_fields import HASHED_USER_DATA_KEYS, MATCH_KEYS, PLAIN_USER_DATA_KEYS
from source_meta_capi.capi.value_checks import Reject, has_value, is_mapping


def check_user_data(user_data: Any, reject: Reject) -> None:
    """Hashed keys hold strings or lists of strings, plain keys strings; one match key has a value."""
    if not is_mapping(user_data):
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
            matchable = has_value(value)
    for key in sorted(bad_hashed):
        reject(f"user_data.{key}", f"user_data.{key} must be a string or list of strings")
    for key in sorted(bad_plain):
        reject(f"user_data.{key}", f"user_data.{key} must be a string")
    if not matchable:
        reject("user_data", "user_data has no customer information parameter to match on")


def _is_hashable_value(item: Any) -> bool:
    kind = type(item)
    if kind is str or kind is int or item is None:
        return True
    return not isinstance(item, bool) and isinstance(item, str | int)


def _is_plain_value(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, str | int))
