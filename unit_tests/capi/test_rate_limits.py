"""Usage headers, backoff and pacing (fact sheet §6.3)."""

from __future__ import annotations

import json
import random

import pytest

from source_meta_capi.capi.graph_errors import ErrorClass
from source_meta_capi.capi.rate_limits import (
    EMPTY_USAGE,
    BackoffPolicy,
    UsageSnapshot,
    backoff_seconds,
    pacing_delay,
    parse_usage_headers,
)

BUC = {
    "1234567890": [
        {
            "type": "ads_management",
            "call_count": 95,
            "total_cputime": 20,
            "total_time": 20,
            "estimated_time_to_regain_access": 3,
        }
    ],
    "42": [{"type": "custom_audience", "call_count": 10, "estimated_time_to_regain_access": 1}],
}


def test_given_all_three_headers_when_parsed_then_maximum_gauge_and_times() -> None:
    usage = parse_usage_headers(
        {
            "x-app-usage": '{"call_count":28,"total_cputime":25,"total_time":25}',
            "X-Ad-Account-Usage": json.dumps(
                {"acc_id_util_pct": 9.67, "reset_time_duration": 120, "ads_api_access_tier": "x"}
            ),
            "X-BUSINESS-USE-CASE-USAGE": json.dumps(BUC),
        }
    )

    assert usage.max_usage_pct == 95
    assert usage.regain_access_seconds == 180  # minutes, §6.3
    assert usage.reset_time_seconds == 120
    assert ("app.call_count", 28.0) in usage.gauges
    assert ("ad_account.acc_id_util_pct", 9.67) in usage.gauges
    assert ("buc:1234567890:ads_management.call_count", 95.0) in usage.gauges
    assert usage.has_usage


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-App-Usage": "not json"},
        {"X-App-Usage": "[1,2]"},
        {"X-App-Usage": '{"call_count":"lots","total_time":null,"total_cputime":true}'},
        {"X-App-Usage": '{"call_count":-5,"total_time":NaN}'},
        {"X-Business-Use-Case-Usage": '{"1": "oops", "2": [3, null]}'},
        {"X-Ad-Account-Usage": ""},
    ],
)
def test_given_malformed_headers_when_parsed_then_no_usage_and_no_error(
    headers: dict[str, str],
) -> None:
    assert parse_usage_headers(headers) == EMPTY_USAGE
    assert not parse_usage_headers(headers).has_usage


def test_given_numbers_as_strings_and_a_bare_buc_entry_when_parsed_then_read() -> None:
    usage = parse_usage_headers(
        {
            "X-App-Usage": '{"call_count":"81"}',
            "X-Business-Use-Case-Usage": '{"7": {"type": "pages", "total_time": 12}}',
            "Retry-After": " 30 ",
        }
    )

    assert (usage.max_usage_pct, usage.retry_after_seconds) == (81.0, 30.0)
    assert ("buc:7:pages.total_time", 12.0) in usage.gauges


def test_given_none_headers_when_parsed_then_empty() -> None:
    assert parse_usage_headers(None) == EMPTY_USAGE


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 0.5, 1), (2, 1, 2), (3, 2, 4), (7, 30, 60)])
def test_given_transient_when_backing_off_then_equal_jitter_exponential(attempt: int, low: float, high: float) -> None:
    rng = random.Random(7)
    for _ in range(50):
        delay = backoff_seconds(attempt, ErrorClass.TRANSIENT, EMPTY_USAGE, rng)
        assert low <= delay <= high


def test_given_a_huge_attempt_when_backing_off_then_capped_without_overflow() -> None:
    delay = backoff_seconds(10_000, ErrorClass.TRANSIENT, EMPTY_USAGE, random.Random(1))

    assert 30 <= delay <= 60


def test_given_same_seed_when_backing_off_then_same_delay() -> None:
    first = backoff_seconds(3, ErrorClass.THROTTLED, EMPTY_USAGE, random.Random(42))
    second = backoff_seconds(3, ErrorClass.THROTTLED, EMPTY_USAGE, random.Random(42))

    assert first == second


def test_given_throttled_with_regain_time_when_backing_off_then_waits_for_regain() -> None:
    usage = UsageSnapshot(max_usage_pct=100, regain_access_seconds=120)

    assert backoff_seconds(1, ErrorClass.THROTTLED, usage, random.Random(0)) == 120


def test_given_throttled_without_regain_when_backing_off_then_exponential_from_five() -> None:
    delay = backoff_seconds(2, ErrorClass.THROTTLED, EMPTY_USAGE, random.Random(0))

    assert 5 <= delay <= 10


def test_given_regain_beyond_the_cap_when_backing_off_then_capped() -> None:
    usage = UsageSnapshot(regain_access_seconds=3600)
    policy = BackoffPolicy(max_delay_seconds=90)

    assert backoff_seconds(1, ErrorClass.THROTTLED, usage, random.Random(0), policy) == 90


def test_given_a_policy_block_when_backing_off_then_at_least_the_floor() -> None:
    delay = backoff_seconds(1, ErrorClass.POLICY_BLOCK, EMPTY_USAGE, random.Random(0))

    assert delay == 60


def test_given_retry_after_when_backing_off_a_transient_then_honoured() -> None:
    usage = UsageSnapshot(retry_after_seconds=20)

    assert backoff_seconds(1, ErrorClass.TRANSIENT, usage, random.Random(0)) == 20


@pytest.mark.parametrize("error_class", [ErrorClass.PERMANENT, ErrorClass.AUTH])
def test_given_a_non_retryable_class_when_backing_off_then_value_error(
    error_class: ErrorClass,
) -> None:
    with pytest.raises(ValueError, match="never retried"):
        backoff_seconds(1, error_class, EMPTY_USAGE, random.Random(0))


def test_given_attempt_zero_when_backing_off_then_value_error() -> None:
    with pytest.raises(ValueError, match="1-based"):
        backoff_seconds(0, ErrorClass.TRANSIENT, EMPTY_USAGE, random.Random(0))


@pytest.mark.parametrize(
    ("pct", "regain", "expected"),
    [
        (0, 0, 0.0),
        (74.9, 0, 0.0),
        (75, 0, 0.0),
        (80, 0, 0.625),
        (85, 0, 2.5),
        (94, 0, 9.025),
        (95, 0, 10.0),
        (99, 240, 240.0),
        (100, 0, 10.0),
        (120, 3600, 300.0),
    ],
)
def test_given_usage_when_pacing_then_the_documented_curve(pct: float, regain: float, expected: float) -> None:
    usage = UsageSnapshot(max_usage_pct=pct, regain_access_seconds=regain)

    assert pacing_delay(usage) == pytest.approx(expected)


def test_given_pacing_delays_then_they_never_decrease_with_usage() -> None:
    delays = [pacing_delay(UsageSnapshot(max_usage_pct=p / 2)) for p in range(0, 220)]

    assert delays == sorted(delays)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transient_base_seconds": 0},
        {"max_delay_seconds": -1},
        {"pacing_start_pct": 95, "pacing_full_pct": 90},
    ],
)
def test_given_a_nonsense_policy_when_built_then_value_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="BackoffPolicy"):
        BackoffPolicy(**kwargs)
