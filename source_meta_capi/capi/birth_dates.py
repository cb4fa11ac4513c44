"""Dates of birth as Meta wants them, YYYYMMDD (fact sheet §3.4.7).

Its own module because reading dates is a concept apart from the other fields: a table of
numeric shapes (year-first, US month-first with a day-first fallback, CJK) and fixed English
month-name shapes, so that nothing is guessed, plus the 1900..today bound.
"""

import re
from datetime import date

from source_meta_capi.capi.field_normalizers import NormalizationError

_MIN_BIRTH_YEAR = 1900

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


def normalize_birth_date(text: str, _country: str | None, today: date) -> str:
    """YYYYMMDD of a date of birth between 1900 and `today`."""
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
            raise NormalizationError("not a calendar date")
        if parsed.year < _MIN_BIRTH_YEAR or parsed > today:
            raise NormalizationError("birth date outside 1900..today")
        return parsed.strftime("%Y%m%d")
    parsed = _textual_date(text)
    if parsed is None:
        raise NormalizationError("unrecognised date format")
    if parsed.year < _MIN_BIRTH_YEAR or parsed > today:
        raise NormalizationError("birth date outside 1900..today")
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
