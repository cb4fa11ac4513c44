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
"""

import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import phonenumbers

from source_meta_capi.capi.event_fields import (
    HASHED_USER_DATA_KEYS,
    PLAIN_USER_DATA_KEYS,
    USER_DATA_PLACEHOLDERS,
)
from source_meta_capi.capi.place_names import country_alpha2, us_state_code

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# §3.4.3: five digits, optionally labelled (`ZIP 94025`) and followed by a ZIP+4 tail in any
# punctuation, complete or not (`94025-`, `94025-12`, `94025.1234`, `94025–1234`).
_US_ZIP = re.compile(r"(?:zip(?:\s*code)?\W*)?(\d{5})(?:(?:[\W_]+\d{0,4})|\d{4})?\W*", re.IGNORECASE)
# Without a country only the unmistakable shapes count as US: 5 digits, a complete ZIP+4, or a
# `ZIP` label. A loose tail would truncate other countries' codes (Brazil's `01310-100`).
_US_ZIP_WITHOUT_COUNTRY = re.compile(r"(?:zip(?:\s*code)?\W*(\d{5})\W*)|(?:(\d{5})(?:[\s-]?\d{4})?)", re.IGNORECASE)
_US_ZIP_INT_MAX = 99_999
_US_ZIP_MAX_LENGTH = 32
# What ends the subscriber number: an extension (`ext 7`, `x12`, `#5`, `;ext=5`) or a pause.
_PHONE_EXTENSION = re.compile(r"(?i)\s*(?:;\s*ext=|e?xt(?:ension)?\.?|x|#|,|доб\.?).*$")
# International call prefixes: `00` nearly everywhere, `011` from NANP countries.
_INTERNATIONAL_PREFIX = re.compile(r"\s*(?:00|011)[\s.-]*(?=[1-9])")
_NON_DIGITS = re.compile(r"\D")
_E164_MAX_DIGITS = 15
_PHONE_MIN_DIGITS = 7
_MIN_BIRTH_YEAR = 1900
_SHA256_HEX_LENGTH = 64

# NANP numbers in the shapes senders use most: `+1` and ten digits (E.164, optionally with
# spaces, dots, dashes or parentheses) or, for a US event, the ten digits alone. libphonenumber
# turns every such string into "1" + the ten digits: a first digit of 2-9 rules out national
# and international prefixes, ten digits is the one possible length for +1, and none of these
# characters can start an extension or a second number. That is all this path does, so it
# skips the ~15 µs parse; test_phone_fast_path.py checks it against libphonenumber itself.
_NANP_INTERNATIONAL = re.compile(r"\+1[ ().-]*([2-9](?:[ ().-]*[0-9]){9})")
_NANP_NATIONAL = re.compile(r"\(?([2-9](?:[ ().-]*[0-9]){9})")
_NANP_MAX_LENGTH = 32
_NANP_SEPARATORS = str.maketrans("", "", " ().-")


def _pairs(table: str) -> dict[str, str]:
    """Parse a `name=code name=code` table, kept compact for review."""
    return {name: code for name, code in (pair.split("=") for pair in table.split())}


_GENDERS: dict[str, str] = _pairs("f=f female=f woman=f m=m male=m man=m")


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


class _NormalizationError(ValueError):
    """A value cannot be normalized; the message is safe to surface (no value in it)."""


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
    except _NormalizationError:
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
            identifier, reason = _plain_identifier(key, value)
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
        elif name in PLAIN_USER_DATA_KEYS and _is_plain_identifier(value):
            result[name] = _hmac_hex(key, str(value))
    return result


def _hmac_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _is_plain_identifier(value: Any) -> bool:
    # fb_login_id and lead_id are integers in Meta's docs (§3.1); bool is an int in Python.
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and value != "") or isinstance(value, int)


def _plain_identifier(key: str, value: Any) -> tuple[Any, str | None]:
    """(identifier to forward, None), or (None, why it was dropped; None when it was null)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        # Surrounding whitespace is transport noise; inner text (fbc's case-sensitive fbclid,
        # Parameter Builder appendices) is sent exactly as received (§3.1, §3.2).
        text = value.strip()
        if not text:
            return None, "dropped: empty value"
        if key == "client_ip_address":
            address = _client_ip(text)
            return (address, None) if address else (None, "dropped: not an IP address")
        return text, None
    if _is_plain_identifier(value):
        return value, None
    return None, "dropped: expected a non-empty string or integer"


# Meta's Parameter Builder appends `.` and an 8-character appendix to values it produces (§3.1).
_APPENDIX = re.compile(r"\.[A-Za-z0-9_-]{8}")


# A canonical dotted quad, what ipaddress would print back for it: ~0.3 µs instead of ~4.
_CANONICAL_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def _client_ip(text: str) -> str | None:
    """The client's address from an IP field: the first of a proxy list (X-Forwarded-For order),
    without brackets, an IPv4 port or spaces; None when no address is there (§3.1: "no spaces")."""
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    first = text.split(",", 1)[0].strip()
    if first.startswith("[") and "]" in first:
        first = first[1 : first.index("]")]
    elif first.count(":") == 1:
        first = first.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        pass
    head, dot, appendix = first.rpartition(".")
    if dot and _APPENDIX.fullmatch(dot + appendix) and not appendix.isdigit():
        try:
            ipaddress.ip_address(head)
        except ValueError:
            return None
        return first
    return None


def _event_countries(value: Any) -> tuple[str, ...]:
    """The event's usable countries, in order, as alpha-2 (placeholders and hashes skipped)."""
    if type(value) is str and len(value) <= _COUNTRY_CACHE_MAX_LENGTH:
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
    if not country or _is_placeholder(country.strip()):
        return None
    try:
        return _country(country.strip())
    except _NormalizationError:
        return None


def _is_placeholder(text: str) -> bool:
    """`text` (already trimmed) is one of USER_DATA_PLACEHOLDERS."""
    # Most values fail on their first character, before any lowering or splitting.
    if len(text) > _PLACEHOLDER_MAX_LENGTH or text[:1] not in _PLACEHOLDER_INITIALS:
        return False
    lowered = text.lower()
    return lowered in USER_DATA_PLACEHOLDERS or (" " in lowered and " ".join(lowered.split()) in USER_DATA_PLACEHOLDERS)


_PLACEHOLDER_MAX_LENGTH = 20
_PLACEHOLDER_INITIALS = frozenset(
    {placeholder[0] for placeholder in USER_DATA_PLACEHOLDERS}
    | {placeholder[0].upper() for placeholder in USER_DATA_PLACEHOLDERS}
)


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
    except _NormalizationError as error:
        return None, f"dropped: {error}"
    return (normalized if prehashed else sha256_hex(normalized)), warning


# _hash_one and _e164 are pure functions of their arguments. Names, places, genders and dates of
# birth repeat across events far more than e-mails or ids, and a libphonenumber parse costs
# ~15 µs, so their results are memoised: a hit saves ~1 µs per field (15 for a phone), a miss
# costs ~0.4. Bounded in entries and in text length; these raw values stay in this process's
# memory, as the request bodies do, and never reach a store.
_CACHED_KEYS = frozenset({"fn", "ln", "ct", "st", "zp", "country", "ge", "db"})
_CACHED_TEXT_MAX_LENGTH = 64
_cached_hash_one = functools.lru_cache(maxsize=8192)(_hash_one)


def _normalize(key: str, value: str, regions: tuple[str, ...], today: date) -> tuple[str, bool, str | None]:
    """(normalized value, already hashed?, quality warning) or _NormalizationError."""
    text = (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise _NormalizationError("empty value")
    # `text` is already trimmed, so this is is_sha256_hex(text) without a second strip.
    if len(text) == _SHA256_HEX_LENGTH and _SHA256_HEX.fullmatch(text) is not None:
        return text.lower(), True, None
    if _is_placeholder(text):
        raise _NormalizationError("placeholder, not data")
    if key in _DIGIT_KEYS and not text.isascii():
        text = _ascii_digits(text)
    if key == "ph":
        return _phone(text, regions)
    normalizer = _FIELD_NORMALIZERS[key]
    return normalizer(text, regions[0] if regions else None, today), False, None


_DIGIT_KEYS = frozenset({"ph", "zp", "db"})


class _DigitsTable(dict[int, str]):
    """A `str.translate` table, filled on demand, mapping every decimal digit to ASCII."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = str(unicodedata.decimal(char)) if unicodedata.category(char) == "Nd" else char
        if len(self) < _LETTERS_TABLE_LIMIT:
            self[code] = folded
        return folded


_DIGITS = _DigitsTable()


def _ascii_digits(text: str) -> str:
    # NFKC turns fullwidth forms (`１００－０００１`) into ASCII; other scripts' digits
    # (Arabic-Indic, Devanagari) are decimal digits NFKC keeps, so they are mapped one by one.
    return unicodedata.normalize("NFKC", text).translate(_DIGITS).strip()


def _email(text: str, _country: str | None, _today: date) -> str:
    # §3.4.9: dots and +tags are part of the address Meta matches.
    email = text.lower()
    if not _EMAIL_SHAPE.fullmatch(email):
        raise _NormalizationError("not an email address")
    return email


def _phone(text: str, regions: tuple[str, ...]) -> tuple[str, bool, str | None]:
    # §3.4.2: libphonenumber resolves trunk zeros, dots and extensions that the SDK rejects.
    if len(text) <= _NANP_MAX_LENGTH:
        nanp = _NANP_INTERNATIONAL.fullmatch(text)
        if nanp is None and regions[:1] == ("us",):
            nanp = _NANP_NATIONAL.fullmatch(text)
        if nanp is not None:
            return "1" + nanp.group(1).translate(_NANP_SEPARATORS), False, None
    return _parsed_phone(text, regions)


def _parsed_phone(text: str, regions: tuple[str, ...]) -> tuple[str, bool, str | None]:
    """`_phone` without its NANP fast path: libphonenumber, then the digits-only fallback."""
    e164 = _cached_e164(text, regions) if len(text) <= _CACHED_TEXT_MAX_LENGTH else _e164(text, regions)
    if e164 is None and not regions:
        # No country to read a national prefix in: `0044 …` / `011 44 …` can only be
        # international call prefixes, i.e. `+44 …`.
        international = _INTERNATIONAL_PREFIX.match(text)
        if international is not None:
            e164 = _e164("+" + text[international.end() :], ())
    if e164 is not None:
        return e164, False, None
    # Without a country code Meta cannot match the number, but digits-only still matches the
    # records that were stored the same way (Segment's behaviour, §3.3); flag the quality loss.
    # An extension is not part of the number.
    digits = _NON_DIGITS.sub("", _PHONE_EXTENSION.sub("", text)).lstrip("0")
    if not _PHONE_MIN_DIGITS <= len(digits) <= _E164_MAX_DIGITS:
        raise _NormalizationError("not a phone number")
    return (
        digits,
        False,
        "phone number has no resolvable country code; sent as digits only",
    )


def _e164(text: str, regions: tuple[str, ...]) -> str | None:
    """libphonenumber's E.164 digits for `text`, or None if not a possible number.

    `text` is read in each region in turn; the first valid reading wins, else the first
    possible one (a number of a new range libphonenumber does not know yet).
    """
    possible_reading: str | None = None
    for region in regions or (None,):
        try:
            number = phonenumbers.parse(text, region.upper() if region else None)
        except phonenumbers.NumberParseException:
            continue
        # A local-only number (no area code) would format as a wrong E.164 number.
        if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
        if len(regions) <= 1 or phonenumbers.is_valid_number(number):
            return e164
        possible_reading = possible_reading or e164
        if text.lstrip().startswith("+"):
            break  # An international number reads the same in every region.
    return possible_reading


_cached_e164 = functools.lru_cache(maxsize=4096)(_e164)


class _LettersTable(dict[int, str | None]):
    """A `str.translate` table filled on demand: letters and marks (and digits, when kept)
    map to themselves, whitespace to a space when spaces are kept, anything else is deleted.

    Computing a character's fate once instead of calling unicodedata.category() for every
    character of every value is most of what makes names, cities and states cheap. Only the
    first `_LETTERS_TABLE_LIMIT` characters seen are remembered, so hostile input cannot grow
    it without bound (ASCII is filled in up front).
    """

    def __init__(self, *, keep_digits: bool, keep_spaces: bool) -> None:
        super().__init__()
        self._keep_digits = keep_digits
        self._keep_spaces = keep_spaces
        for code in range(128):
            self[code] = self._fate(chr(code))

    def _fate(self, char: str) -> str | None:
        category = unicodedata.category(char)
        if category[0] in "LM" or (self._keep_digits and category[0] == "N"):
            return char
        if self._keep_spaces and char.isspace():
            return " "
        return None

    def __missing__(self, code: int) -> str | None:
        fate = self._fate(chr(code))
        if len(self) < _LETTERS_TABLE_LIMIT:
            self[code] = fate
        return fate


_LETTERS_TABLE_LIMIT = 20_000
_NAME_LETTERS = _LettersTable(keep_digits=False, keep_spaces=True)
_CITY_LETTERS = _LettersTable(keep_digits=False, keep_spaces=False)
_STATE_LETTERS = _LettersTable(keep_digits=True, keep_spaces=False)


def _letters(text: str, table: _LettersTable) -> str:
    # Same result as filtering text.lower() character by character: translate() looks each
    # character up in `table`, which applies that filter (see _LettersTable).
    kept = " ".join(text.lower().translate(table).split())
    return kept if kept.isascii() else unicodedata.normalize("NFC", kept)


def _name(text: str, _country: str | None, _today: date) -> str:
    # §3.4.8: punctuation goes (O'Brien-Smith -> obriensmith), accents and scripts stay.
    # Inner spaces stay as one space: Meta's own Parameter Builder only trims names.
    name = _letters(text, _NAME_LETTERS)
    if not name:
        raise _NormalizationError("no letters in name")
    return name


def _city(text: str, _country: str | None, _today: date) -> str:
    # §3.2: no spaces, punctuation or digits (`newyork`); UTF-8 letters allowed.
    city = _letters(text, _CITY_LETTERS)
    if not city:
        raise _NormalizationError("no letters in city")
    return city


def _state(text: str, country: str | None, _today: date) -> str:
    # §3.4.4: US full names and abbreviations map to the ANSI code; elsewhere only
    # punctuation and spaces go.
    state = _letters(text, _STATE_LETTERS)
    if country in (None, "us"):
        code = us_state_code(state)
        if code is not None:
            return code
    if not state:
        raise _NormalizationError("no letters in state")
    return state


def _zip(text: str, country: str | None, _today: date) -> str:
    # §3.4.3: US keeps the first 5 digits; a ZIP or ZIP+4 shape is US even without a country.
    if len(text) <= _US_ZIP_MAX_LENGTH:
        if country == "us":
            us_zip = _US_ZIP.fullmatch(text)
            if not us_zip:
                raise _NormalizationError("US ZIP code needs 5 digits")
            return us_zip.group(1)
        if country is None:
            unmistakable = _US_ZIP_WITHOUT_COUNTRY.fullmatch(text)
            if unmistakable:
                return unmistakable.group(1) or unmistakable.group(2)
    elif country == "us":
        raise _NormalizationError("US ZIP code needs 5 digits")
    postal = "".join(char for char in text.lower() if char.isalnum())
    if not postal:
        raise _NormalizationError("no letters or digits in postal code")
    return postal


def _country(text: str, _country: str | None = None, _today: date | None = None) -> str:
    # §3.4.5: names and alpha-3 codes become alpha-2; anything still unresolved is dropped.
    alpha_2 = _cached_alpha_2(text) if len(text) <= _COUNTRY_CACHE_MAX_LENGTH else _alpha_2_of(text)
    if alpha_2 is None:
        raise _NormalizationError("not a recognised country")
    return alpha_2


def _alpha_2_of(text: str) -> str | None:
    return country_alpha2(text)


# Every event resolves its country (and the configured default) before its phone, and the same
# few spellings come again and again, while a pycountry name lookup costs microseconds. Long
# texts are not kept: they are never countries and would make the cache's memory unbounded.
_COUNTRY_CACHE_MAX_LENGTH = 64
_cached_alpha_2 = functools.lru_cache(maxsize=1024)(_alpha_2_of)


def _gender(text: str, _country: str | None, _today: date) -> str:
    # §3.4.6: Meta accepts only `f` or `m`; any other value is omitted.
    gender = _GENDERS.get(text.lower().rstrip("."))
    if gender is None:
        raise _NormalizationError("gender is not f or m")
    return gender


_DOB_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, str, str]], ...] = (
    # Basic ISO 8601, optionally with a time (`19970216T000000`).
    (re.compile(r"(\d{4})(\d{2})(\d{2})(?:T[\d:.,]*(?:Z|[+-]\d{2}:?\d{2})?)?", re.IGNORECASE), ("y", "m", "d")),
    # Extended ISO 8601 with a time or a zone (`1997-02-16Z`), and year-first with any separator.
    (re.compile(r"(\d{4})[-/. ](\d{1,2})[-/. ](\d{1,2})(?:[T ].*|Z)?", re.IGNORECASE), ("y", "m", "d")),
    (re.compile(r"(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{4})"), ("m", "d", "y")),
    # Chinese/Japanese and Korean (`1997年2月16日`, `1997년 2월 16일`).
    (re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?"), ("y", "m", "d")),
)
# English month names and their abbreviations (`Feb`, `Sept`). Matched against exact shapes
# only: a free-form date parser fills in what is missing (`Feb 1997` became the 5th, today's
# day), which would invent data. A table rather than strptime's %b: that one follows the
# process locale, and the Lambda package stays free of a date library.
_MONTHS: dict[str, int] = {}
for _number, _month_name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"),
    start=1,
):  # fmt: skip
    _MONTHS[_month_name] = _MONTHS[_month_name[:3]] = _number
_MONTHS["sept"] = 9
_MONTH_FIRST = re.compile(r"([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.?,? (\d{4})")


def _birth_date(text: str, _country: str | None, today: date) -> str:
    # §3.4.7: Meta wants YYYYMMDD; the SDK forwards `1997-02-16` as-is, which never matches.
    for pattern, order in _DOB_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = dict(zip(order, (int(group) for group in match.groups()), strict=True))
        parsed = _valid_date(parts["y"], parts["m"], parts["d"])
        if parsed is None and order == ("m", "d", "y"):
            # `16/02/1997` cannot be month/day, so it is the day-first form.
            parsed = _valid_date(parts["y"], parts["d"], parts["m"])
        if parsed is None:
            raise _NormalizationError("not a calendar date")
        if parsed.year < _MIN_BIRTH_YEAR or parsed > today:
            raise _NormalizationError("birth date outside 1900..today")
        return parsed.strftime("%Y%m%d")
    parsed = _textual_date(text)
    if parsed is None:
        raise _NormalizationError("unrecognised date format")
    if parsed.year < _MIN_BIRTH_YEAR or parsed > today:
        raise _NormalizationError("birth date outside 1900..today")
    return parsed.strftime("%Y%m%d")


def _textual_date(text: str) -> date | None:
    """`Feb 16, 1997`, `February 16th 1997`, `16 Feb. 1997`: English month names, all three parts given."""
    if not text.isascii():
        return None
    cleaned = " ".join(text.lower().split())
    match = _MONTH_FIRST.fullmatch(cleaned)
    if match is not None:
        month_name, day, year = match.groups()
    else:
        match = _DAY_FIRST.fullmatch(cleaned)
        if match is None:
            return None
        day, month_name, year = match.groups()
    month = _MONTHS.get(month_name)
    return _valid_date(int(year), month, int(day)) if month is not None else None


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _external_id(text: str, _country: str | None, _today: date) -> str:
    # §3.5: case is kept so the hash equals what the Pixel sends for the same ID.
    return text


_FIELD_NORMALIZERS: dict[str, Callable[[str, str | None, date], str]] = {
    "em": _email,
    "fn": _name,
    "ln": _name,
    "ct": _city,
    "st": _state,
    "zp": _zip,
    "country": _country,
    "ge": _gender,
    "db": _birth_date,
    "external_id": _external_id,
}
