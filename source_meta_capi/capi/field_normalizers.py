"""The per-field normalizers of hashed user_data: e-mails, names, places, genders, external ids.

Each turns one trimmed, NFC, non-placeholder text into Meta's normalized plaintext (fact sheet
§3.2, §3.4) or raises `NormalizationError`; hashing, warnings and which regions apply are
user_data_normalization's concern, so these stay pure functions of (text, country, today) that
its dispatch table calls directly. Phones (libphonenumber) and dates of birth (their own shape
tables) are big enough to be concepts of their own: phone_normalization.py and birth_dates.py,
which raise the same error. The letter and digit tables live here because names, cities, states
and postal codes are what they were built for.
"""

import functools
import re
import unicodedata
from datetime import date

from source_meta_capi.capi.event_fields import USER_DATA_PLACEHOLDERS
from source_meta_capi.capi.place_names import country_alpha2, us_state_code

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# §3.4.3: five digits, optionally labelled (`ZIP 94025`) and followed by a ZIP+4 tail in any
# punctuation, complete or not (`94025-`, `94025-12`, `94025.1234`, `94025–1234`).
_US_ZIP = re.compile(r"(?:zip(?:\s*code)?\W*)?(\d{5})(?:(?:[\W_]+\d{0,4})|\d{4})?\W*", re.IGNORECASE)
# Without a country only the unmistakable shapes count as US: 5 digits, a complete ZIP+4, or a
# `ZIP` label. A loose tail would truncate other countries' codes (Brazil's `01310-100`).
_US_ZIP_WITHOUT_COUNTRY = re.compile(r"(?:zip(?:\s*code)?\W*(\d{5})\W*)|(?:(\d{5})(?:[\s-]?\d{4})?)", re.IGNORECASE)
_US_ZIP_MAX_LENGTH = 32


def _pairs(table: str) -> dict[str, str]:
    """Parse a `name=code name=code` table, kept compact for review."""
    return {name: code for name, code in (pair.split("=") for pair in table.split())}


_GENDERS: dict[str, str] = _pairs("f=f female=f woman=f m=m male=m man=m")


class NormalizationError(ValueError):
    """A value cannot be normalized; the message is safe to surface (no value in it)."""


def is_placeholder(text: str) -> bool:
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


class _DigitsTable(dict[int, str]):
    """A `str.translate` table, filled on demand, mapping every decimal digit to ASCII."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = str(unicodedata.decimal(char)) if unicodedata.category(char) == "Nd" else char
        if len(self) < _LETTERS_TABLE_LIMIT:
            self[code] = folded
        return folded


_DIGITS = _DigitsTable()


def ascii_digits(text: str) -> str:
    """`text` with the digits of every script as ASCII digits, trimmed."""
    # NFKC turns fullwidth forms (`１００－０００１`) into ASCII; other scripts' digits
    # (Arabic-Indic, Devanagari) are decimal digits NFKC keeps, so they are mapped one by one.
    return unicodedata.normalize("NFKC", text).translate(_DIGITS).strip()


def normalize_email(text: str, _country: str | None, _today: date) -> str:
    """The address lowercased, or NormalizationError when it has no e-mail shape."""
    # §3.4.9: dots and +tags are part of the address Meta matches.
    email = text.lower()
    if not _EMAIL_SHAPE.fullmatch(email):
        raise NormalizationError("not an email address")
    return email


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


def normalize_name(text: str, _country: str | None, _today: date) -> str:
    """Letters and marks of any script, lowercased, single inner spaces (fn, ln)."""
    # §3.4.8: punctuation goes (O'Brien-Smith -> obriensmith), accents and scripts stay.
    # Inner spaces stay as one space: Meta's own Parameter Builder only trims names.
    name = _letters(text, _NAME_LETTERS)
    if not name:
        raise NormalizationError("no letters in name")
    return name


def normalize_city(text: str, _country: str | None, _today: date) -> str:
    """Letters and marks of any script, lowercased, no spaces."""
    # §3.2: no spaces, punctuation or digits (`newyork`); UTF-8 letters allowed.
    city = _letters(text, _CITY_LETTERS)
    if not city:
        raise NormalizationError("no letters in city")
    return city


def normalize_state(text: str, country: str | None, _today: date) -> str:
    """A US state's two-letter code, else letters and digits lowercased."""
    # §3.4.4: US full names and abbreviations map to the ANSI code; elsewhere only
    # punctuation and spaces go.
    state = _letters(text, _STATE_LETTERS)
    if country in (None, "us"):
        code = us_state_code(state)
        if code is not None:
            return code
    if not state:
        raise NormalizationError("no letters in state")
    return state


def normalize_zip(text: str, country: str | None, _today: date) -> str:
    """A US ZIP's five digits, else the postal code's letters and digits lowercased."""
    # §3.4.3: US keeps the first 5 digits; a ZIP or ZIP+4 shape is US even without a country.
    if len(text) <= _US_ZIP_MAX_LENGTH:
        if country == "us":
            us_zip = _US_ZIP.fullmatch(text)
            if not us_zip:
                raise NormalizationError("US ZIP code needs 5 digits")
            return us_zip.group(1)
        if country is None:
            unmistakable = _US_ZIP_WITHOUT_COUNTRY.fullmatch(text)
            if unmistakable:
                return unmistakable.group(1) or unmistakable.group(2)
    elif country == "us":
        raise NormalizationError("US ZIP code needs 5 digits")
    postal = "".join(char for char in text.lower() if char.isalnum())
    if not postal:
        raise NormalizationError("no letters or digits in postal code")
    return postal


def normalize_country(text: str, _country: str | None = None, _today: date | None = None) -> str:
    """The lowercase ISO 3166-1 alpha-2 code of a country name or code."""
    # §3.4.5: names and alpha-3 codes become alpha-2; anything still unresolved is dropped.
    alpha_2 = _cached_alpha_2(text) if len(text) <= COUNTRY_CACHE_MAX_LENGTH else _alpha_2_of(text)
    if alpha_2 is None:
        raise NormalizationError("not a recognised country")
    return alpha_2


def _alpha_2_of(text: str) -> str | None:
    return country_alpha2(text)


# Every event resolves its country (and the configured default) before its phone, and the same
# few spellings come again and again, while a pycountry name lookup costs microseconds. Long
# texts are not kept: they are never countries and would make the cache's memory unbounded.
COUNTRY_CACHE_MAX_LENGTH = 64
_cached_alpha_2 = functools.lru_cache(maxsize=1024)(_alpha_2_of)


def normalize_gender(text: str, _country: str | None, _today: date) -> str:
    """`f` or `m`."""
    # §3.4.6: Meta accepts only `f` or `m`; any other value is omitted.
    gender = _GENDERS.get(text.lower().rstrip("."))
    if gender is None:
        raise NormalizationError("gender is not f or m")
    return gender


def normalize_external_id(text: str, _country: str | None, _today: date) -> str:
    """The ID as sent (already trimmed)."""
    # §3.5: case is kept so the hash equals what the Pixel sends for the same ID.
    return text
