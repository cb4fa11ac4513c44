"""What a value in a sent event counts as: the predicates every validation module shares.

Event validation is split by part of the event (event_validation.py for the envelope and the entry
points, then user_data, action_source requirements, custom_data and data processing options), and
each part asks the same questions of a value: is it an object, a number, an integer, one of a set
of codes? The answers are decisions (a decimal string counts as a number, a digit string as an
integer, an array is never a code), so they live once, here, rather than once per part.

`Reject` is how a part reports: it is called with the field and a reason, and never sees the
rejection type, so the parts do not import the entry points that import them.
"""

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard

# Reports one problem: `reject(field, reason)`. The reason never repeats a submitted value.
Reject = Callable[[str, str], None]

# A JSON number written as a string: what form-encoded senders and many SDKs send. Decimal
# notation only (no exponent, no `inf`/`nan`, no spaces), so `float()` cannot surprise.
DECIMAL_STRING: Final[re.Pattern[str]] = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
INTEGER_STRING: Final[re.Pattern[str]] = re.compile(r"[0-9]{1,15}")


def is_mapping(value: Any) -> TypeGuard[Mapping[Any, Any]]:
    """A JSON object."""
    # isinstance() against the Mapping ABC is several times slower than this exact type test,
    # and parsed JSON objects are always plain dicts.
    return type(value) is dict or isinstance(value, Mapping)


def is_number(value: Any) -> bool:
    """A finite JSON number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def is_numeric(value: Any) -> bool:
    """A finite JSON number or a decimal string (`"12.50"`), which normalization makes a number."""
    kind = type(value)
    # Exact types first: what a JSON parser produces, checked without the isinstance chain.
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return True
    return is_number(value) or (isinstance(value, str) and DECIMAL_STRING.fullmatch(value) is not None)


def is_integer(value: Any) -> bool:
    """An integer, an integral float (`2.0`) or a string of digits."""
    if type(value) is int:
        return True
    if isinstance(value, float):
        return value.is_integer()
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and INTEGER_STRING.fullmatch(value) is not None
    )


def is_one_of(value: Any, allowed: frozenset[Any]) -> bool:
    """A string or integer code in `allowed`."""
    # Set membership hashes the value: a JSON array or object there raised TypeError (a 500 on
    # hostile input, found by the reliability fuzz suite) instead of a rejection.
    return isinstance(value, str | int) and value in allowed


def is_non_empty_string(value: Any) -> bool:
    """A string with something besides whitespace."""
    return isinstance(value, str) and value.strip() != ""


def has_value(value: Any) -> bool:
    """A user_data value that carries something: a non-blank string, an integer, or a list holding one."""
    if isinstance(value, list):
        return any(has_value(item) for item in value)
    if isinstance(value, str):
        return value.strip() != ""
    return isinstance(value, int) and not isinstance(value, bool)
