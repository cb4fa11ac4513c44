"""The value predicates every validation module shares (capi/value_checks.py)."""

from typing import Any

import pytest

from source_meta_capi.capi.value_checks import (
    has_value,
    is_integer,
    is_mapping,
    is_non_empty_string,
    is_number,
    is_numeric,
    is_one_of,
)


@pytest.mark.parametrize("value", [0, -3, 12.5, "12.50", "-7", "0.1", 10**15])
def test_given_a_number_or_decimal_string_when_checked_then_numeric(value: Any) -> None:
    assert is_numeric(value)


@pytest.mark.parametrize("value", [True, None, "1e3", "nan", "inf", " 12", "12.", "", float("nan"), float("inf"), [1]])
def test_given_a_boolean_exponent_or_non_finite_value_when_checked_then_not_numeric(value: Any) -> None:
    assert not is_numeric(value)


def test_given_a_boolean_when_checked_then_not_a_number() -> None:
    assert is_number(1) and is_number(1.5) and not is_number(True) and not is_number("1")


@pytest.mark.parametrize(("value", "expected"), [(3, True), (3.0, True), ("42", True), (3.5, False), ("4.0", False),
                                                 ("-1", False), (False, False), (None, False)])  # fmt: skip
def test_given_a_value_when_checked_for_an_integer_then_digit_strings_and_integral_floats_count(
    value: Any, expected: bool
) -> None:
    assert is_integer(value) is expected


@pytest.mark.parametrize("value", [[], {"a": 1}, ["in_store"]])
def test_given_an_array_or_object_when_checked_against_codes_then_false_not_raised(value: Any) -> None:
    assert not is_one_of(value, frozenset({"in_store", 1}))


def test_given_a_string_or_integer_code_when_checked_against_codes_then_membership() -> None:
    assert is_one_of("in_store", frozenset({"in_store"})) and is_one_of(1, frozenset({1}))
    assert not is_one_of("curbside", frozenset({"in_store"}))


@pytest.mark.parametrize(("value", "expected"), [("a", True), (7, True), (["", " ", "x"], True), ("  ", False),
                                                 ([], False), ([""], False), (True, False), (None, False)])  # fmt: skip
def test_given_a_user_data_value_when_checked_then_has_value_only_with_content(value: Any, expected: bool) -> None:
    assert has_value(value) is expected


def test_given_json_shapes_when_checked_then_only_objects_are_mappings_and_blank_strings_empty() -> None:
    assert is_mapping({}) and not is_mapping([]) and not is_mapping("{}")
    assert is_non_empty_string("x") and not is_non_empty_string(" \t") and not is_non_empty_string(5)
