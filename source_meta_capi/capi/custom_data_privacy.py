"""Strip personal data outside user_data (fact sheet §4, §10.2).

Meta forbids raw contact information outside user_data, and DESIGN.md forbids raw personal
data in any store. The policy is **strip**, applied to every free-form field (custom_data,
original_event_data, attribution_data, app_data): a key that names personal data, or whose
string value holds an e-mail address, is removed at any depth (inside `contents` items and
custom objects alike). URLs (event_source_url, referrer_url) lose every query parameter whose
name is such a key or whose value looks like an e-mail address or a phone number. Only key
paths and parameter names are reported, never values.
"""

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from source_meta_capi.capi.event_fields import (
    PII_CUSTOM_DATA_KEY_SUFFIXES,
    PII_CUSTOM_DATA_KEYS,
    STANDARD_CUSTOM_DATA_FIELDS,
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
# Keys repeat from event to event (`id`, `quantity`, `brand`…) and the verdict depends on the
# key alone, so verdicts are cached; long keys are judged every time to keep memory bounded.
_KEY_CACHE_MAX_LENGTH = 64
_ATOMS = (str, int, float, bool, type(None))
_NON_STRING_ATOMS = (int, float, bool, type(None))
# An e-mail address anywhere in a value (`Jane <jane@example.com>` too).
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
# A phone number as typed: `+1 555 123 4567`, `(555) 123-4567`; 10-15 digits with a + or separators.
_PHONE_LIKE = re.compile(r"\+?[0-9 ().-]{9,24}")


@dataclass(frozen=True)
class CleanedCustomData:
    """custom_data without personal data keys, and the paths of the keys removed.

    Paths look like `email` or `contents[0].customerPhone`; they never carry values.
    """

    custom_data: dict[str, Any]
    stripped_keys: tuple[str, ...]


def is_pii_key(key: str) -> bool:
    """True when a custom_data key names personal data (`email`, `firstName`, `zip_code`…).

    Matching ignores case and separators, so camelCase, snake_case and kebab-case spellings
    all match; a key that ends in a strong word (`billing_email`) matches too. Meta's
    standard custom_data fields (§4) never match.
    """
    return key not in STANDARD_CUSTOM_DATA_FIELDS and _verdict_of(key)


def _verdict_of(key: str) -> bool:
    return _cached_verdict(key) if len(key) <= _KEY_CACHE_MAX_LENGTH else _verdict(key)


def _verdict(key: str) -> bool:
    words = [word.lower() for word in _SEPARATORS.split(_CAMEL_BOUNDARY.sub("_", key)) if word]
    if "".join(words) in PII_CUSTOM_DATA_KEYS:
        return True
    return any("".join(words[start:]) in PII_CUSTOM_DATA_KEY_SUFFIXES for start in range(len(words)))


_cached_verdict = functools.lru_cache(maxsize=4096)(_verdict)


def strip_pii(custom_data: Mapping[str, Any]) -> CleanedCustomData:
    """A deep copy of `custom_data` with personal data keys removed at every depth.

    The input is not modified. Lists are walked item by item, so `contents[*]` objects
    are cleaned as well as any nested custom object.
    """
    stripped: list[str] = []
    cleaned = _clean_mapping(custom_data, "", stripped)
    return CleanedCustomData(cleaned, tuple(stripped))


def _clean_mapping(mapping: Mapping[str, Any], path: str, stripped: list[str]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(key, str) and key not in STANDARD_CUSTOM_DATA_FIELDS and _verdict_of(key):
            stripped.append(f"{path}.{key}" if path else str(key))
        elif type(value) is str:
            if "@" in value and _EMAIL.search(value):
                stripped.append(f"{path}.{key}" if path else str(key))
            else:
                cleaned[key] = value
        elif type(value) in _NON_STRING_ATOMS:
            # Most values are leaves: their path is only built when there is something below.
            cleaned[key] = value
        else:
            cleaned[key] = _clean_value(value, f"{path}.{key}" if path else str(key), stripped)
    return cleaned


def _clean_value(value: Any, path: str, stripped: list[str]) -> Any:
    if type(value) in _ATOMS:
        return value
    if type(value) is dict or isinstance(value, Mapping):
        return _clean_mapping(value, path, stripped)
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            if type(item) is str and "@" in item and _EMAIL.search(item):
                stripped.append(f"{path}[{index}]")
            elif type(item) in _ATOMS:
                items.append(item)
            else:
                items.append(_clean_value(item, f"{path}[{index}]", stripped))
        return items
    # Not from a JSON parser (a tuple, a set…): copied, so the result shares nothing with the input.
    return copy.deepcopy(value)


def scrub_url(url: str) -> tuple[str, tuple[str, ...]]:
    """`url` without query parameters that carry personal data, and the names of those removed.

    A parameter goes when its name is a personal data key (`email`, `phone`, `name`…) or its
    value holds an e-mail address or looks like a phone number (`+`, or separators, and 10-15
    digits). Everything else, fragment included, is kept as sent; a URL with nothing to remove
    is returned unchanged (same string).
    """
    if "?" not in url:
        return url, ()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, ()
    if not parts.query:
        return url, ()
    kept: list[str] = []
    removed: list[str] = []
    for raw in parts.query.split("&"):
        name, _, value = raw.partition("=")
        decoded_name, decoded_value = unquote_plus(name), unquote_plus(value)
        if _is_personal_parameter(decoded_name, decoded_value):
            removed.append(quote(decoded_name[:64], safe=""))
        else:
            kept.append(raw)
    if not removed:
        return url, ()
    return urlunsplit(parts._replace(query="&".join(kept))), tuple(removed)


def _is_personal_parameter(name: str, value: str) -> bool:
    if name and is_pii_key(name):
        return True
    if "@" in value and _EMAIL.search(value):
        return True
    if _PHONE_LIKE.fullmatch(value.strip()):
        digits = sum(character.isdigit() for character in value)
        has_marks = value.lstrip().startswith("+") or any(mark in value for mark in " ().-")
        return 10 <= digits <= 15 and has_marks
    return False
