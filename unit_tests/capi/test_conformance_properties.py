"""Property-based conformance: the project's normalization equals an independent oracle.

Each test generates user_data values of one field in the shapes senders use (case, whitespace,
punctuation, other scripts' digits, formats) from a known truth, and checks the project against
`fact_sheet_oracle` (written from the fact sheet, sharing no code with the project) and, for
phones, libphonenumber itself. Deterministic (derandomized, no example database) and sized to
run in a few seconds of `make test`.
"""

from __future__ import annotations

import string
from datetime import date
from typing import Any

import phonenumbers
import pycountry
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from source_meta_capi.capi.event_fields import USER_DATA_PLACEHOLDERS
from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.user_data_normalization import normalize_field, normalize_user_data
from unit_tests.capi import fact_sheet_oracle as oracle

TODAY = date(2026, 11, 26)
CONFORMANCE = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

_SPACE = st.sampled_from(["", "", " ", "  ", "\t", "\n", "\xa0"])
_DIGIT_SCRIPTS = (
    "0123456789",
    "０１２３４５６７８９",  # fullwidth
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic
    "०१२३४५६७८९",  # Devanagari
)


def _in_script(text: str, script: str) -> str:
    return "".join(script[int(char)] if char.isdigit() and char.isascii() else char for char in text)


def _recase(text: str, how: int) -> str:
    return (text, text.lower(), text.upper(), text.title())[how]


# -------------------------------------------------------------------------------------------
# Strategies: raw value as a sender writes it.

_emails = st.builds(
    lambda local, domain, tld, case, before, after: before + _recase(f"{local}@{domain}.{tld}", case) + after,
    st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=12),
    st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10),
    st.text(string.ascii_lowercase, min_size=2, max_size=6),
    st.integers(0, 2),
    _SPACE,
    _SPACE,
)

_NAME_CHARS = string.ascii_letters + "éèüöñçåøßÉÜÑ" + "가정김이박" + "日本東京" + "Борис" + "'-.,  " + "0123"
_names = st.text(st.sampled_from(_NAME_CHARS), min_size=1, max_size=20)

_PHONE_REGIONS = sorted(
    region for region in phonenumbers.SUPPORTED_REGIONS if pycountry.countries.get(alpha_2=region) or region == "XK"
)
_PHONE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
_PHONE_FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
)


@st.composite
def _phones(draw: st.DrawFn) -> tuple[str, str]:
    """(text, region): a valid number of `region`, varied in its last digits, in one format."""
    region = draw(st.sampled_from(_PHONE_REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_PHONE_TYPES)))
    assume(example is not None)
    national = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=2, max_size=2))
    number = phonenumbers.parse(f"+{example.country_code}{national[:-2]}{tail}", None)
    assume(phonenumbers.is_valid_number(number))
    text = phonenumbers.format_number(number, draw(st.sampled_from(_PHONE_FORMATS)))
    return text.replace(" ", draw(st.sampled_from([" ", "-", ".", " "]))), region


_us_zips = st.builds(
    lambda digits, suffix, label, script: label + _in_script(digits + suffix, script),
    st.text("0123456789", min_size=5, max_size=5),
    st.sampled_from(["", "-1234", " 1234", "1234", "-", "-12", ".1234", "\u20131234", "\u20141234", " "]),
    st.sampled_from(["", "", "ZIP ", "zip: ", "Zip Code "]),
    st.sampled_from(_DIGIT_SCRIPTS),
)
_postcodes = st.text(string.ascii_uppercase + string.digits + " -", min_size=1, max_size=9).filter(
    lambda text: any(char.isalnum() for char in text)
)

_COUNTRIES = sorted(pycountry.countries, key=lambda country: country.alpha_2)
_countries = st.builds(
    lambda country, attribute, case, before, after: (
        before + _recase(str(getattr(country, attribute)), case) + after,
        str(country.alpha_2).lower(),
    ),
    st.sampled_from(_COUNTRIES),
    st.sampled_from(["alpha_2", "alpha_3", "name"]),
    st.integers(0, 2),
    _SPACE,
    _SPACE,
)

_us_states = st.builds(
    lambda entry, use_code, case, dot, before: (
        before + _recase(entry[1] if use_code else entry[0], case) + (dot if not use_code else "")
    ),
    st.sampled_from(sorted(oracle.US_STATES.items())),
    st.booleans(),
    st.integers(0, 3),
    st.sampled_from(["", "."]),
    _SPACE,
)

_DATE_FORMATS = (
    "%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dZ",
    "%Y%m%dT%H%M%S", "%b %d, %Y", "%B %d, %Y", "%d %B %Y", "%d %b %Y", "%Y年%m月%d日",
)  # fmt: skip
_birth_dates = st.tuples(
    st.dates(min_value=date(1850, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from((*_DATE_FORMATS, "%d/%m/%Y")),
    st.sampled_from(_DIGIT_SCRIPTS[:3]),
)
_genders = st.builds(
    lambda word, case, before, after: before + _recase(word, case) + after,
    st.sampled_from([*sorted(oracle.GENDERS), "x", "other", "unknown", "femme"]),
    st.integers(0, 3),
    _SPACE,
    _SPACE,
)


def _placeholder(text: str) -> bool:
    return " ".join(text.lower().split()) in USER_DATA_PLACEHOLDERS


# -------------------------------------------------------------------------------------------
# Properties, one per field.


@CONFORMANCE
@given(_emails)
def test_given_generated_emails_then_normalization_equals_the_oracle(raw: str) -> None:
    assert normalize_field("em", raw, None, TODAY) == oracle.email(raw)


@CONFORMANCE
@given(_phones(), st.booleans())
def test_given_valid_phones_in_any_format_then_e164_digits_equal_libphonenumbers(
    phone: tuple[str, str], with_extension: bool
) -> None:
    text, region = phone
    expected = oracle.phone(text, region)
    suffix = " ext. 12" if with_extension else ""
    assert normalize_field("ph", text + suffix, region.lower(), TODAY) == expected


@CONFORMANCE
@given(_phones(), st.sampled_from(["00", "00 ", "011 "]))
def test_given_international_call_prefix_and_no_country_then_the_prefix_reads_as_plus(
    phone: tuple[str, str], prefix: str
) -> None:
    text, region = phone
    number = phonenumbers.parse(text, region)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_field("ph", prefix + international[1:], None, TODAY) == oracle.phone(international, None)


@CONFORMANCE
@given(_names)
def test_given_generated_names_then_normalization_equals_the_oracle(raw: str) -> None:
    assume(not _placeholder(raw))
    assert normalize_field("fn", raw, None, TODAY) == oracle.name(raw)
    assert normalize_field("ln", raw, None, TODAY) == oracle.name(raw)
    assert normalize_field("ct", raw, None, TODAY) == oracle.city(raw)


@CONFORMANCE
@given(_us_states)
def test_given_us_state_names_and_codes_then_the_two_letter_code(raw: str) -> None:
    assert normalize_field("st", raw, "us", TODAY) == oracle.state(raw, "us")


@CONFORMANCE
@given(_us_zips)
def test_given_us_zips_in_any_shape_then_the_first_five_digits(raw: str) -> None:
    assert normalize_field("zp", raw, "us", TODAY) == oracle.zip_code(raw, "us")


@CONFORMANCE
@given(_postcodes, st.sampled_from(["gb", "ca", "nl", "jp", "br"]))
def test_given_non_us_postcodes_then_lowercase_letters_and_digits(raw: str, country: str) -> None:
    assume(not _placeholder(raw))
    assert normalize_field("zp", raw, country, TODAY) == oracle.zip_code(raw, country)


@CONFORMANCE
@given(_countries)
def test_given_iso_country_codes_and_names_then_alpha_2(case: tuple[str, str]) -> None:
    raw, alpha_2 = case
    assert oracle.country_code(raw) == alpha_2
    assert normalize_field("country", raw, None, TODAY) == alpha_2


@CONFORMANCE
@given(_genders)
def test_given_gender_spellings_then_f_m_or_dropped(raw: str) -> None:
    assert normalize_field("ge", raw, None, TODAY) == oracle.gender(raw)


@CONFORMANCE
@given(_birth_dates)
def test_given_birth_dates_in_any_format_then_yyyymmdd_within_1900_to_today(case: tuple[date, str, str]) -> None:
    day, pattern, script = case
    if pattern == "%d/%m/%Y":
        assume(day.day > 12)  # day-first is only read when month-first cannot be a date
    raw = _in_script(day.strftime(pattern), script)
    assert normalize_field("db", raw, None, TODAY) == oracle.birth_date(day, TODAY)


@CONFORMANCE
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "em": _emails,
            "fn": _names,
            "ln": _names,
            "ct": _names,
            "ge": _genders,
            "zp": _us_zips,
        },
    )
)
def test_given_user_data_then_hashes_equal_the_oracles_and_an_empty_result_is_rejected(raw: dict[str, Any]) -> None:
    assume(not any(_placeholder(value) for value in raw.values()))
    expected_plain = {
        "em": oracle.email(raw["em"]) if "em" in raw else None,
        "fn": oracle.name(raw["fn"]) if "fn" in raw else None,
        "ln": oracle.name(raw["ln"]) if "ln" in raw else None,
        "ct": oracle.city(raw["ct"]) if "ct" in raw else None,
        "ge": oracle.gender(raw["ge"]) if "ge" in raw else None,
        "zp": oracle.zip_code(raw["zp"], "us") if "zp" in raw else None,
    }
    expected = {key: [oracle.sha256(value)] for key, value in expected_plain.items() if value is not None}
    assert normalize_user_data(raw, "us", TODAY).user_data == expected

    event = {"event_name": "Lead", "event_time": 1764150000, "action_source": "email", "user_data": raw}
    result = normalize_event(event, "us", TODAY)
    assert (result.rejection is not None) == (expected == {})
