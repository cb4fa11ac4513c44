"""The NANP fast path of phone normalization answers exactly what libphonenumber answers.

Why the shapes it accepts are exact: for `+1` followed by ten digits whose first is 2-9, with only
spaces, dots, dashes and parentheses between them (or, for a US event, the ten digits alone),
libphonenumber's `parse` finds no RFC 3966 context, extension or second number (they all need a
letter, `;`, `,`, `#`, `~`, `/` or `x`), strips the `+` and reads country code 1 (or takes 1 from
the US region, since a first digit of 2-9 is neither the IDD `011` nor the national prefix `1`),
keeps all ten digits (no national prefix to strip, ten is the one possible length for +1 in the
US metadata, no leading zero), and `format_number(E164)` writes `+1` and those digits. The tests
below check that claim against libphonenumber itself on generated inputs, near misses included.
"""

from __future__ import annotations

import random

import pytest

from source_meta_capi.capi.phone_normalization import (
    _NANP_INTERNATIONAL,
    _NANP_NATIONAL,
    _parsed_phone,
    normalize_phone,
)


def _reference_phone(text: str, country: str | None) -> tuple[str, bool, str | None] | str:
    """The phone normalization without the fast path: libphonenumber's reading, then the
    digits-only fallback (for a number libphonenumber cannot read, which the fast path never takes)."""
    try:
        return _parsed_phone(text, (country,) if country else ())
    except ValueError as error:
        return f"error: {error}"


def _actual(text: str, country: str | None) -> tuple[str, bool, str | None] | str:
    try:
        return normalize_phone(text, (country,) if country else ())
    except ValueError as error:
        return f"error: {error}"


def _takes_fast_path(text: str, country: str | None) -> bool:
    return len(text) <= 32 and (
        _NANP_INTERNATIONAL.fullmatch(text) is not None
        or (country == "us" and _NANP_NATIONAL.fullmatch(text) is not None)
    )


_SEPARATORS = ("", "", "", " ", "-", ".", "(", ")", "  ", ") ", " (", "--", "()")
_REGIONS = (None, "us", "ca", "gb", "de", "pr", "jm", "aq", "in")


def _generated(count: int, seed: int) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(10))
        if rng.random() < 0.8:
            digits = rng.choice("23456789") + digits[1:]
        body = "".join((rng.choice(_SEPARATORS) if rng.random() < 0.35 else "") + digit for digit in digits)
        roll = rng.random()
        if roll < 0.45:
            text = "+1" + body
        elif roll < 0.9:
            text = ("(" if rng.random() < 0.3 else "") + body
        else:
            text = rng.choice(("+1", "", "+", "1", "+11", "+ 1", "++1", "011 1 ")) + body
            if rng.random() < 0.5:
                text = text[:-1] if rng.random() < 0.5 else text + rng.choice("0123456789x#,;/ )")
        cases.append((text.strip(), rng.choice(_REGIONS)))
    return cases


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("+14155551234", None, "14155551234"),
        ("+1 (415) 555-1234", "gb", "14155551234"),
        ("+1.415.555.1234", "us", "14155551234"),
        ("(650)555-1212", "us", "16505551212"),
        ("650.555.1212", "us", "16505551212"),
    ],
)
def test_given_nanp_shapes_when_normalizing_then_the_fast_path_answers_e164_digits(
    text: str, country: str | None, expected: str
) -> None:
    assert _takes_fast_path(text, country)
    assert _actual(text, country) == (expected, False, None)
    assert _reference_phone(text, country) == (expected, False, None)


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("+10155551234", None),  # first digit 0: libphonenumber's call
        ("+11155551234", None),  # first digit 1: a national prefix
        ("6505551212", None),  # no region: libphonenumber cannot place it
        ("6505551212", "ca"),  # another NANP region has its own metadata
        ("+1 415 555 1234 x12", None),  # an extension
        ("+1 415 555 1234#", None),
        ("++14155551234", None),
        ("+1 415 555 12345", None),  # eleven digits
        ("+１４１５５５５１２３４", None),  # full-width digits
        ("+1\t415\t555\t1234", None),
        ("+1" + " " * 40 + "4155551234", None),  # past the length bound
    ],
)
def test_given_other_shapes_when_normalizing_then_libphonenumber_decides(text: str, country: str | None) -> None:
    assert not _takes_fast_path(text, country)
    assert _actual(text, country) == _reference_phone(text, country)


def test_given_generated_phones_when_normalizing_then_results_equal_libphonenumbers() -> None:
    cases = _generated(4000, seed=11)
    assert sum(_takes_fast_path(text, country) for text, country in cases) > 1500
    mismatches = [
        (text, country) for text, country in cases if _actual(text, country) != _reference_phone(text, country)
    ]
    assert mismatches == []


def test_given_every_area_code_when_normalizing_then_results_equal_libphonenumbers() -> None:
    rng = random.Random(5)
    mismatches = []
    for area in range(200, 1000):
        line = f"{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"
        for text, country in (
            (f"+1 ({area}) {line}", rng.choice(_REGIONS)),
            (f"({area}) {line}", "us"),
        ):
            assert _takes_fast_path(text, country)
            if _actual(text, country) != _reference_phone(text, country):
                mismatches.append(text)
    assert mismatches == []
