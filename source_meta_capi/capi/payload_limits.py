"""Limits that protect the receiver's process from one hostile event.

Normalization, hashing, PII stripping and the record encoder all walk an event; orjson refuses
to encode past 254 levels and Python's recursion limit stops a recursive walk near 1000. An
event beyond these limits must be refused *as that event's* data error (a 422 rejection naming
its event id, and a dead letter), never surface later as a store failure that sinks the other
events of its request and of its group commit. So every limit is checked here, per event, with
an explicit stack (no recursion a payload can blow), before anything else looks at the event.

The limits are far above anything Meta accepts or a real sender sends (docs/normalization.md,
"Size limits"), so a legitimate event never meets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Optional

# Levels of objects/arrays below the event object itself: `custom_data.contents[0].x` is 3.
# Meta's own fields nest at most 3 deep; orjson's encoder stops at 254 and the staged record
# wraps the event in no more than 2 levels.
MAX_NESTING_DEPTH: Final[int] = 32
# Items in any one array (custom_data.contents, content_ids, a custom list…).
MAX_LIST_LENGTH: Final[int] = 10_000
# Values in one user_data list field (`em`, `ph`…): each is normalized and hashed (180,000
# phones were 3.2 s of CPU); Meta matches on a handful per customer.
MAX_USER_DATA_VALUES: Final[int] = 100
# Keys of any one object.
MAX_KEYS_PER_OBJECT: Final[int] = 1_000
# Characters in any one string value, and in any one key.
MAX_STRING_LENGTH: Final[int] = 65_536
MAX_KEY_LENGTH: Final[int] = 256
# Scalars and containers in one event: bounds the work of every later pass.
MAX_VALUES_PER_EVENT: Final[int] = 100_000

_SCALARS: Final[tuple[type, ...]] = (int, float, bool, type(None))


class LimitExceeded(Exception):
    """Where (a field path, never a value) and which limit an event exceeds."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_event_limits(event: Mapping[Any, Any]) -> Optional[LimitExceeded]:
    """The first limit `event` exceeds, or None. Iterative: safe on any depth and any size."""
    # A fast pass over what JSON parsers produce answers for nearly every event; the slow pass
    # below (paths for the message, any Mapping) runs only when it cannot.
    if type(event) is dict and _within_limits(event):
        return None
    return _first_exceeded(event)


def _within_limits(event: dict[Any, Any]) -> bool:
    user_data = event.get("user_data")
    if type(user_data) is dict:
        for value in user_data.values():
            if type(value) is list and len(value) > MAX_USER_DATA_VALUES:
                return False
    stack: list[tuple[Any, int]] = [(event, 0)]
    pop, push = stack.pop, stack.append
    seen = 0
    while stack:
        value, depth = pop()
        if depth > MAX_NESTING_DEPTH:
            return False
        if type(value) is dict:
            if len(value) > MAX_KEYS_PER_OBJECT:
                return False
            for key in value:
                if type(key) is not str or len(key) > MAX_KEY_LENGTH:
                    return False
            items = value.values()
        else:  # a list
            if len(value) > MAX_LIST_LENGTH:
                return False
            items = value
        seen += len(value)
        for item in items:
            kind = type(item)
            if kind is str:
                if len(item) > MAX_STRING_LENGTH:
                    return False
            elif kind is dict or kind is list:
                push((item, depth + 1))
            elif kind not in _SCALARS:
                return False
        if seen > MAX_VALUES_PER_EVENT:
            return False
    return True


def _first_exceeded(event: Mapping[Any, Any]) -> Optional[LimitExceeded]:
    if len(event) > MAX_KEYS_PER_OBJECT:
        return LimitExceeded("event", f"has more than {MAX_KEYS_PER_OBJECT} keys")
    user_data = event.get("user_data")
    if isinstance(user_data, Mapping):
        for key, value in user_data.items():
            if isinstance(value, list) and len(value) > MAX_USER_DATA_VALUES:
                return LimitExceeded(f"user_data.{_name(key)}", f"has more than {MAX_USER_DATA_VALUES} values")
    # (value, its path, its depth); the path is only built for containers, for the message.
    stack: list[tuple[Any, str, int]] = [(event, "", 0)]
    seen = 0
    while stack:
        value, path, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES_PER_EVENT:
            return LimitExceeded("event", f"holds more than {MAX_VALUES_PER_EVENT} values")
        kind = type(value)
        if kind is str:
            if len(value) > MAX_STRING_LENGTH:
                return LimitExceeded(path or "event", f"is a string longer than {MAX_STRING_LENGTH} characters")
            continue
        if kind in _SCALARS:
            continue
        if depth > MAX_NESTING_DEPTH:
            return LimitExceeded(_top(path), f"nests deeper than {MAX_NESTING_DEPTH} levels")
        if isinstance(value, Mapping):
            if len(value) > MAX_KEYS_PER_OBJECT:
                return LimitExceeded(path or "event", f"has more than {MAX_KEYS_PER_OBJECT} keys")
            for key, item in value.items():
                if isinstance(key, str) and len(key) > MAX_KEY_LENGTH:
                    return LimitExceeded(path or "event", f"has a key longer than {MAX_KEY_LENGTH} characters")
                if type(item) is str:
                    if len(item) > MAX_STRING_LENGTH:
                        return LimitExceeded(
                            _join(path, key), f"is a string longer than {MAX_STRING_LENGTH} characters"
                        )
                    seen += 1
                elif type(item) in _SCALARS:
                    seen += 1
                else:
                    stack.append((item, _join(path, key), depth + 1))
        elif isinstance(value, list):
            if len(value) > MAX_LIST_LENGTH:
                return LimitExceeded(path or "event", f"has more than {MAX_LIST_LENGTH} items")
            for item in value:
                if type(item) in _SCALARS:
                    seen += 1
                else:
                    stack.append((item, f"{path}[]", depth + 1))
    return None


def _name(key: Any) -> str:
    return str(key)[:MAX_KEY_LENGTH]


def _join(path: str, key: Any) -> str:
    # Only the first levels name the field: a path 500 levels deep is no help in an answer.
    if path.count(".") + path.count("[") >= 4:
        return path
    return f"{path}.{_name(key)}" if path else _name(key)


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0] or "event"
