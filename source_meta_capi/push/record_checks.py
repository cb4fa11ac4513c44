"""Cheap per-record checks for staged data: schema types, and the attribution drift alarm."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from source_meta_capi.capi.event_fields import HASHED_USER_DATA_KEYS, MATCH_KEYS, PLAIN_USER_DATA_KEYS

ATTRIBUTION_FIELDS = ("event_id", "event_time", "event_name", "action_source")

_MAX_SIGNATURES = 4096
_EMPTY = (None, "")
_NO_MATCH_KEY: tuple[object, ...] = (None, "", [])

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class RecordTypeChecker:
    """Checks the top-level fields of a record against its stream's JSON Schema types.

    Full JSON Schema validation costs tens of microseconds per record; a type check of the
    top-level fields catches what breaks a warehouse load (a string where an integer goes) at a
    fraction of that.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._types: dict[str, tuple[bool, tuple[type, ...], bool]] = {}
        for name, spec in schema.get("properties", {}).items():
            declared = spec.get("type", [])
            declared = [declared] if isinstance(declared, str) else list(declared)
            if not declared:
                continue
            python_types = tuple(t for name_ in declared if name_ != "null" for t in _PY_TYPES.get(name_, ()))
            allows_bool = "boolean" in declared
            self._types[name] = ("null" in declared, python_types, allows_bool)
        self._required = tuple(schema.get("required", ()))
        # The verdict depends only on which fields a record has and the exact type of each
        # value, so a record whose (fields, types) signature already passed passes again. Staged
        # objects repeat a handful of shapes, which turns ~20 isinstance checks per record into
        # one set lookup. Bounded, so hostile data cannot grow it.
        self._fitting_signatures: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()

    def problem(self, record: Mapping[str, Any]) -> Optional[str]:
        """None if the record fits, else a reason naming the field (never its value)."""
        signature = (tuple(record), tuple(map(type, record.values())))
        if signature in self._fitting_signatures:
            return None
        found = self._problem(record)
        if found is None and len(self._fitting_signatures) < _MAX_SIGNATURES:
            self._fitting_signatures.add(signature)
        return found

    def _problem(self, record: Mapping[str, Any]) -> Optional[str]:
        for name in self._required:
            if record.get(name) is None:
                return f"required field {name} is missing"
        for name, value in record.items():
            expected = self._types.get(name)
            if expected is None:
                continue
            nullable, python_types, allows_bool = expected
            if value is None:
                if not nullable:
                    return f"field {name} is null"
                continue
            if isinstance(value, bool) and not allows_bool:
                return f"field {name} is a boolean"
            if python_types and not isinstance(value, python_types):
                return f"field {name} has JSON type {type(value).__name__}, expected {'/'.join(t.__name__ for t in python_types)}"
        return None


@dataclass(frozen=True)
class DriftFinding:
    """An event that lacks a field attribution needs."""

    pixel_id: str
    event_name: str
    event_id: Optional[str]
    missing: tuple[str, ...]


def attribution_drift(record: Mapping[str, Any]) -> Optional[DriftFinding]:
    """What attribution fields the event lacks, if any."""
    get = record.get
    user_data = get("user_data")
    # The common case (nothing missing) in straight-line code: this runs once per staged event.
    if (
        get("event_id") not in _EMPTY
        and get("event_time") not in _EMPTY
        and get("event_name") not in _EMPTY
        and get("action_source") not in _EMPTY
        and (type(user_data) is dict or isinstance(user_data, Mapping))
        and _has_match_key(user_data)
    ):
        return None
    missing = [name for name in ATTRIBUTION_FIELDS if get(name) in _EMPTY]
    if not isinstance(user_data, Mapping) or not _has_match_key(user_data):
        missing.append("user_data match keys")
    if not missing:
        return None
    event_id = record.get("event_id")
    return DriftFinding(
        pixel_id=str(record.get("pixel_id")),
        event_name=str(record.get("event_name") or "(none)"),
        event_id=str(event_id) if event_id is not None else None,
        missing=tuple(missing),
    )


def _has_match_key(user_data: Mapping[str, Any]) -> bool:
    """Whether any key Meta matches on carries a value; an event without one cannot be attributed."""
    # Over the event's few keys rather than all match keys, and a plain loop rather than
    # any(<genexpr>): no generator frame per staged event.
    for key, value in user_data.items():  # noqa: SIM110
        if key in MATCH_KEYS and value not in _NO_MATCH_KEY:
            return True
    return False


# SHA-256 as Meta wants it, and HMAC-SHA256 pseudonyms (user_data_normalization.pseudonymize):
# both are 64 lowercase hex digits.
_HASH = re.compile(r"[0-9a-f]{64}")
# Every hashed value of an event at once, each followed by a newline: one regex run per event
# instead of one per value (a third of the check's cost). With the length equal to 65 per value,
# a match has exactly one newline per value, so no value can smuggle two hashes in one string.
_HASHES = re.compile(r"(?:[0-9a-f]{64}\n)*")


def unhashed_user_data(record: Mapping[str, Any]) -> Optional[str]:
    """The first user_data key of a staged event whose value is not a hash, or None.

    The receiver stages hashed keys (em, ph, …) as SHA-256 hex only, plain identifiers (IP, user
    agent, fbp, …) as sent, and with pseudonymization every value as an HMAC hex. Anything else
    in a bucket was not written by the receiver: the source refuses to emit
    it, as corrupt data, rather than pass raw personal data to a warehouse. Names the key only.
    """
    user_data = record.get("user_data")
    if user_data is None:
        return None
    if type(user_data) is not dict:
        return "user_data"
    pseudonymized = record.get("user_data_pseudonymized") is True
    hashed: list[Any] = []
    for key, value in user_data.items():
        if key in HASHED_USER_DATA_KEYS or pseudonymized:
            if type(value) is list:
                hashed.extend(value)
            else:
                hashed.append(value)
        elif key not in PLAIN_USER_DATA_KEYS:
            return str(key)
    if not hashed:
        return None
    try:
        text = "\n".join(hashed) + "\n"
    except TypeError:  # a value that is not a string
        text = ""
    if len(text) == 65 * len(hashed) and _HASHES.fullmatch(text) is not None:
        return None
    return _first_unhashed_key(user_data, pseudonymized)


def _first_unhashed_key(user_data: Mapping[str, Any], pseudonymized: bool) -> Optional[str]:
    """The exact pass, value by value, that names the key (only for an event that failed)."""
    fullmatch = _HASH.fullmatch
    for key, value in user_data.items():
        if key in HASHED_USER_DATA_KEYS or pseudonymized:
            values = value if type(value) is list else (value,)
            for item in values:
                if type(item) is not str or fullmatch(item) is None:
                    return str(key)
    return None
