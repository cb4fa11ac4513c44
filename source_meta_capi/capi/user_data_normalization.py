"""Normalize and SHA-256 hash an event's user_data the way Meta matches it (fact sheet §3).

Hashed keys (§3.1) are normalized per field (§3.2, §3.4), NFC-normalized and hashed to
lowercase hex; each comes out as a de-duplicated list. Plain identifiers (IP, user agent,
fbc, fbp and the other IDs) pass through unchanged. A value that cannot be normalized is
dropped with a `NormalizationWarning` naming the field; no warning ever carries the value.

Choices where Meta leaves room (fact sheet §3.4):
- Already hashed means exactly 64 hex digits after trimming, nothing else (no MD5 shape).
- Phones are parsed with libphonenumber in the event's `country` (else the configured
  default). When no country code can be resolved the digits alone are hashed, minus
  leading zeros, with a warning: they still match records stored the same way.
- Names lose punctuation but keep letters of every script, accents and single inner
  spaces; cities lose spaces too. Integers are accepted wherever a string is expected.
- Dates of birth read year-first, US month-first, or day-first when month-first cannot be
  a date (`16.02.1997`), CJK (`1997年2月16日`) and English month names (`Feb 16, 1997`, read
  with fixed shapes, so nothing is guessed), and are dropped outside 1900..today.
- Placeholders (`null`, `N/A`, `none`, `-`, `unknown`, …) are dropped from every hashed field:
  hashed, they would make unrelated people share one value.
- Digits of any script (`１００－０００１`, Arabic-Indic) are folded to ASCII in phones, postal
  codes and dates. docs/normalization.md lists every rule with its source.

Module map (each file says why its seam is there): this module holds the entry points
(`normalize_user_data`, `normalize_field`, `pseudonymize`), hashing, warnings and the dispatch
from key to normalizer; field_normalizers.py the per-field rules (e-mail, names, places, gender,
external_id, placeholders, digit and letter tables); phone_normalization.py phones;
birth_dates.py dates of birth; plain_identifiers.py the keys that are sent unhashed.
"""

import dataclasses
import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from source_meta_capi.capi.birth_dates import normalize_birth_date
from source_meta_capi.capi.event_fields import (
    HASHED_USER_DATA_KEYS,
    PLAIN_USER_DATA_KEYS,
)
from source_meta_capi.capi.field_normalizers import (
    COUNTRY_CACHE_MAX_LENGTH,
    NormalizationError,
    ascii_digits,
    is_placeholder,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
    normalize_state,
    normalize_zip,
)
from source_meta_capi.capi.phone_normalization import normalize_phone
from source_meta_capi.capi.plain_identifiers import is_plain_identifier, plain_identifier

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_US_ZIP_INT_MAX = 99_999
_SHA256_HEX_LENGTH = 64


class WarningKind:
    """What a `NormalizationWarning` is about, as a stable label a metric can count."""

    DROPPED_VALUE: Final[str] = "dropped_value"
    PHONE_WITHOUT_COUNTRY_CODE: Final[str] = "phone_without_country_code"
    UNKNOWN_KEY: Final[str] = "unknown_key"
    WEAK_MATCH_KEYS: Final[str] = "weak_match_keys"
    NO_MATCH_KEY: Final[str] = "no_match_key"
    NOT_SERVER_EVENT_FIELD: Final[str] = "not_server_event_field"
    CUSTOMER_SEGMENTATION: Final[str] = "customer_segmentation"
    PII_IN_CUSTOM_DATA: Final[str] = "pii_in_custom_data"
    COERCED_TYPE: Final[str] = "coerced_type"


@dataclass(frozen=True)
class NormalizationWarning:
    """A user_data value was dropped or degraded; `reason` never contains the value."""

    field: str
    reason: str
    # Derived from the reason's cause; left out of equality so the reason stays the contract.
    kind: str = dataclasses.field(default=WarningKind.DROPPED_VALUE, compare=False)


@dataclass
class NormalizedUserData:
    """Hashed user_data ready to stage and forward, plus what normalization gave up on."""

    user_data: dict[str, Any]
    warnings: list[NormalizationWarning] = field(default_factory=list)


def sha256_hex(value: str) -> str:
    """SHA-256 of the NFC form of `value`'s UTF-8 bytes, as lowercase hex (§3.4.11)."""
    # ASCII text is always in NFC; isascii() is O(1) where the NFC quick check walks the string.
    normalized = value if value.isascii() else unicodedata.normalize("NFC", value)
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """True when `value`, trimmed, is exactly 64 hex digits: already hashed (§3.4.1).

    The SDK's MD5 (32 hex) pass-through and Segment's unanchored match are deliberately not
    copied: a 32-hex value is raw data and gets hashed.
    """
    return _SHA256_HEX.fullmatch(value.strip()) is not None


def normalize_field(key: str, value: str, country: str | None = None, today: date | None = None) -> str | None:
    """Meta's normalized plaintext of one hashed user_data value, or None if unusable.

    `country` is the event's alpha-2 country (or a configured default), used to resolve
    phone numbers and US ZIP/state rules. A value that is already a SHA-256 hex digest is
    returned lowercased, untouched otherwise. Phone numbers without a resolvable country code
    come back as digits only; use `normalize_user_data` to get the accompanying warning.
    Raises ValueError for a key that Meta does not hash.
    """
    if key not in HASHED_USER_DATA_KEYS:
        raise ValueError(f"{key!r} is not a hashed user_data key")
    alpha_2 = _alpha2(country)
    try:
        return _normalize(key, value, (alpha_2,) if alpha_2 else (), today or date.today())[0]
    except NormalizationError:
        return None


def normalize_user_data(
    raw: Mapping[str, Any],
    default_country: str | None = None,
    today: date | None = None,
) -> NormalizedUserData:
    """Normalize and hash a raw user_data object.

    Hashed keys become de-duplicated lists of lowercase SHA-256 hex. Plain identifiers are
    copied unchanged (fbc/fbp case matters, §3.2). Unknown keys are dropped so that personal
    data under a misspelt key never reaches a store. `default_country` applies when the
    event carries no usable `country`; `today` bounds dates of birth (injected for tests).
    Phones are read in each of the event's countries in turn (then the default) and take the
    first region where libphonenumber finds a valid number.
    """
    today = today or date.today()
    warnings: list[NormalizationWarning] = []
    regions = _event_countries(raw.get("country"))
    default = _alpha2(default_country)
    if default and default not in regions:
        regions = (*regions, default)
    user_data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in HASHED_USER_DATA_KEYS:
            hashes = _hash_values(key, value, regions, today, warnings)
            if hashes:
                user_data[key] = hashes
        elif key in PLAIN_USER_DATA_KEYS:
            identifier, reason = plain_identifier(key, value)
            if identifier is not None:
                user_data[key] = identifier
            elif reason is not None:
                warnings.append(NormalizationWarning(key, reason))
        else:
            warnings.append(NormalizationWarning(str(key), "dropped: unknown user_data key", WarningKind.UNKNOWN_KEY))
    return NormalizedUserData(user_data, warnings)


def pseudonymize(hashed_user_data: Mapping[str, Any], salt: bytes | str) -> dict[str, Any]:
    """A salted copy of hashed user_data for analytics: HMAC-SHA256(salt, value) per value.

    What can be replayed to Meta: only the unsalted output of `normalize_user_data`, so the
    staged forward copy must keep Meta's plain SHA-256 hashes and plain identifiers. This
    copy can never be replayed: Meta cannot match HMACs, and without the salt nobody can
    link them back to Meta's hashes or brute-force low-entropy fields (ge, db, zp; §10.2).
    Hashed keys and plain identifiers are both keyed; other keys are left out.
    """
    key = salt.encode("utf-8") if isinstance(salt, str) else salt
    if not key:
        raise ValueError("pseudonymize needs a non-empty salt")
    result: dict[str, Any] = {}
    for name, value in hashed_user_data.items():
        if name in HASHED_USER_DATA_KEYS and isinstance(value, list):
            result[name] = [_hmac_hex(key, str(item)) for item in value]
        elif name in PLAIN_USER_DATA_KEYS and is_plain_identifier(value):
            result[name] = _hmac_hex(key, str(value))
    return result


def _hmac_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _event_countries(value: Any) -> tuple[str, ...]:
    """The event's usable countries, in order, as alpha-2 (placeholders and hashes skipped)."""
    if type(value) is str and len(value) <= COUNTRY_CACHE_MAX_LENGTH:
        return _cached_countries_of(value)
    return _countries_of(value)


def _countries_of(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    countries: list[str] = []
    for item in items:
        if not isinstance(item, str) or is_sha256_hex(item):
            continue
        alpha_2 = _alpha2(item)
        if alpha_2 and alpha_2 not in countries:
            countries.append(alpha_2)
    return tuple(countries)


_cached_countries_of = functools.lru_cache(maxsize=1024)(_countries_of)


def _alpha2(country: str | None) -> str | None:
    if not country or is_placeholder(country.strip()):
        return None
    try:
        return normalize_country(country.strip())
    except NormalizationError:
        return None


def _hash_values(
    key: str,
    value: Any,
    regions: tuple[str, ...],
    today: date,
    warnings: list[NormalizationWarning],
) -> list[str]:
    if type(value) is str:
        # The common case, a single string, without the list machinery below (same result).
        digest, reason = _digest(key, value, regions, today)
        if reason is not None:
            warnings.append(_warning(key, digest, reason))
        return [] if digest is None else [digest]
    items = value if isinstance(value, list) else [value]
    hashes: list[str] = []
    for item in items:
        if item is None:
            continue
        # Integers are accepted because phones and ZIPs often arrive as JSON numbers.
        if isinstance(item, bool) or not isinstance(item, str | int):
            warnings.append(NormalizationWarning(key, "dropped: expected a string"))
            continue
        text = str(item)
        if key == "zp" and type(item) is int and regions[:1] == ("us",) and 0 <= item <= _US_ZIP_INT_MAX:
            # A ZIP sent as a JSON number has lost its leading zeros (02134 -> 2134).
            text = f"{item:05d}"
        digest, reason = _digest(key, text, regions, today)
        if reason is not None:
            warnings.append(_warning(key, digest, reason))
        if digest is not None and digest not in hashes:
            hashes.append(digest)
    return hashes


def _warning(key: str, digest: str | None, reason: str) -> NormalizationWarning:
    # A warning that comes with a digest is the phone sent without a country code.
    kind = WarningKind.DROPPED_VALUE if digest is None else WarningKind.PHONE_WITHOUT_COUNTRY_CODE
    return NormalizationWarning(key, reason, kind)


def _digest(key: str, text: str, regions: tuple[str, ...], today: date) -> tuple[str | None, str | None]:
    """(digest, None), (digest, quality warning) or (None, why the value was dropped)."""
    if key in _CACHED_KEYS and len(text) <= _CACHED_TEXT_MAX_LENGTH:
        return _cached_hash_one(key, text, regions, today)
    return _hash_one(key, text, regions, today)


def _hash_one(key: str, text: str, regions: tuple[str, ...], today: date) -> tuple[str | None, str | None]:
    """(digest, None), (digest, quality warning) or (None, why the value was dropped)."""
    try:
        normalized, prehashed, warning = _normalize(key, text, regions, today)
    except NormalizationError as error:
        return None, f"dropped: {error}"
    return (normalized if prehashed else sha256_hex(normalized)), warning


# _hash_one is a pure function of its arguments, as phone_normalization's _e164 is. Names,
# places, genders and dates of birth repeat across events far more than e-mails or ids, and a
# libphonenumber parse costs ~15 µs, so their results are memoised: a hit saves ~1 µs per field
# (15 for a phone), a miss costs ~0.4. Bounded in entries and in text length; these raw values stay in this process's
# memory, as the request bodies do, and never reach a store.
_CACHED_KEYS = frozenset({"fn", "ln", "ct", "st", "zp", "country", "ge", "db"})
_CACHED_TEXT_MAX_LENGTH = 64
_cached_hash_one = functools.lru_cache(maxsize=8192)(_hash_one)


def _normalize(key: str, value: str, regions: tuple[str, ...], today: date) -> tuple[str, bool, str | None]:
    """(normalized value, already hashed?, quality warning) or NormalizationError."""
    text = (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise NormalizationError("empty value")
    # `text` is already trimmed, so this is is_sha256_hex(text) without a second strip.
    if len(text) == _SHA256_HEX_LENGTH and _SHA256_HEX.fullmatch(text) is not None:
        return text.lower(), True, None
    if is_placeholder(text):
        raise NormalizationError("placeholder, not data")
    if key in _DIGIT_KEYS and not text.isascii():
        text = ascii_digits(text)
    if key == "ph":
        return normalize_phone(text, regions)
    normalizer = _FIELD_NORMALIZERS[key]
    return normalizer(text, regions[0] if regions else None, today), False, None


_DIGIT_KEYS = frozenset({"ph", "zp", "db"})

# Bound functions straight from their modules: one dict lookup per value on the hot path.
_FIELD_NORMALIZERS: dict[str, Callable[[str, str | None, date], str]] = {
    "em": normalize_email,
    "fn": normalize_name,
    "ln": normalize_name,
    "ct": normalize_city,
    "st": normalize_state,
    "zp": normalize_zip,
    "country": normalize_country,
    "ge": normalize_gender,
    "db": normalize_birth_date,
    "external_id": normalize_external_id,
}
