"""Phone numbers as E.164 digits (fact sheet §3.4.2): a NANP fast path, then libphonenumber.

Its own module because it is the one field that needs a parser library, several candidate
regions (the event's countries, then the configured default) and a degraded result (digits
only, with a quality warning) instead of a plain value or an error. It is also where most of
the CPU goes, hence the fast path and the memoised parse.
"""

import functools
import re

import phonenumbers

from source_meta_capi.capi.field_normalizers import NormalizationError

# What ends the subscriber number: an extension (`ext 7`, `x12`, `#5`, `;ext=5`) or a pause.
_PHONE_EXTENSION = re.compile(r"(?i)\s*(?:;\s*ext=|e?xt(?:ension)?\.?|x|#|,|доб\.?).*$")
# International call prefixes: `00` nearly everywhere, `011` from NANP countries.
_INTERNATIONAL_PREFIX = re.compile(r"\s*(?:00|011)[\s.-]*(?=[1-9])")
_NON_DIGITS = re.compile(r"\D")
_E164_MAX_DIGITS = 15
_PHONE_MIN_DIGITS = 7

# NANP numbers in the shapes senders use most: `+1` and ten digits (E.164, optionally with
# spaces, dots, dashes or parentheses) or, for a US event, the ten digits alone. libphonenumber
# turns every such string into "1" + the ten digits: a first digit of 2-9 rules out national
# and international prefixes, ten digits is the one possible length for +1, and none of these
# characters can start an extension or a second number. That is all this path does, so it
# skips the ~15 µs parse; test_phone_normalization.py checks it against libphonenumber itself.
_NANP_INTERNATIONAL = re.compile(r"\+1[ ().-]*([2-9](?:[ ().-]*[0-9]){9})")
_NANP_NATIONAL = re.compile(r"\(?([2-9](?:[ ().-]*[0-9]){9})")
_NANP_MAX_LENGTH = 32
_NANP_SEPARATORS = str.maketrans("", "", " ().-")
# A libphonenumber parse costs ~15 µs and the same numbers come again (a customer's events,
# retries), so _e164 is memoised, bounded in entries and in text length like
# user_data_normalization's cache of whole results.
_CACHED_TEXT_MAX_LENGTH = 64


def normalize_phone(text: str, regions: tuple[str, ...]) -> tuple[str, bool, str | None]:
    """(E.164 digits, False, None), or (digits only, False, quality warning) when no country
    code resolves in `regions`; NormalizationError when it cannot be a phone number."""
    # §3.4.2: libphonenumber resolves trunk zeros, dots and extensions that the SDK rejects.
    if len(text) <= _NANP_MAX_LENGTH:
        nanp = _NANP_INTERNATIONAL.fullmatch(text)
        if nanp is None and regions[:1] == ("us",):
            nanp = _NANP_NATIONAL.fullmatch(text)
        if nanp is not None:
            return "1" + nanp.group(1).translate(_NANP_SEPARATORS), False, None
    return _parsed_phone(text, regions)


def _parsed_phone(text: str, regions: tuple[str, ...]) -> tuple[str, bool, str | None]:
    """`normalize_phone` without its NANP fast path: libphonenumber, then the digits-only fallback."""
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
        raise NormalizationError("not a phone number")
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
