"""Meta's usage headers, retry backoff and pacing: pure functions over parsed headers.

Meta reports how much of each allowance is used in three headers on every response (fact
sheet §6.3); throttling starts at 100 % of any gauge. We parse all three on every response
(including ``/events``, for which Meta publishes no limit of its own), slow down before the
limit, and when throttled wait at least as long as Meta says it will take to regain access.

Pacing curve (:func:`pacing_delay`), with the default :class:`BackoffPolicy`:

=============  ==============================================================
max usage      delay before the next call
=============  ==============================================================
< 75 %         0 s (the community threshold quoted in §6.3)
75 % .. 95 %   quadratic ramp: ``pacing_max_seconds * ((pct - 75) / 20) ** 2``
               (0 s at 75 %, 0.625 s at 80 %, 2.5 s at 85 %, 10 s at 95 %)
>= 95 %        ``max(pacing_max_seconds, regain_access_seconds, retry_after)``,
               capped at ``max_delay_seconds``
=============  ==============================================================
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from source_meta_capi.capi.graph_errors import ErrorClass

__all__ = [
    "AD_ACCOUNT_USAGE_HEADER",
    "APP_USAGE_HEADER",
    "BUSINESS_USE_CASE_USAGE_HEADER",
    "DEFAULT_POLICY",
    "EMPTY_USAGE",
    "BackoffPolicy",
    "UsageSnapshot",
    "backoff_seconds",
    "pacing_delay",
    "parse_usage_headers",
]

APP_USAGE_HEADER = "x-app-usage"
AD_ACCOUNT_USAGE_HEADER = "x-ad-account-usage"
BUSINESS_USE_CASE_USAGE_HEADER = "x-business-use-case-usage"
_PERCENT_FIELDS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")


@dataclass(frozen=True)
class UsageSnapshot:
    """What one response's usage headers say, reduced to what pacing and backoff need.

    ``max_usage_pct`` is the highest percentage over every gauge of every header (Meta
    throttles when any gauge reaches 100 %). ``regain_access_seconds`` is the largest
    ``estimated_time_to_regain_access`` (sent in minutes, §6.3) converted to seconds.
    ``reset_time_seconds`` is the largest ``reset_time_duration`` of ``X-Ad-Account-Usage``
    (believed to be seconds, §6.3). ``retry_after_seconds`` comes from a numeric
    ``Retry-After`` header, which proxies in front of Meta may send.
    """

    max_usage_pct: float = 0.0
    regain_access_seconds: float = 0.0
    reset_time_seconds: float = 0.0
    retry_after_seconds: float = 0.0
    gauges: tuple[tuple[str, float], ...] = ()

    @property
    def has_usage(self) -> bool:
        """Whether any usage header was present and readable (they appear only after some calls)."""
        return bool(self.gauges) or self.regain_access_seconds > 0 or self.reset_time_seconds > 0


EMPTY_USAGE = UsageSnapshot()
"""The snapshot of a response that carried no usage headers."""


@dataclass(frozen=True)
class BackoffPolicy:
    """Tunable numbers for :func:`backoff_seconds` and :func:`pacing_delay` (all seconds)."""

    transient_base_seconds: float = 1.0
    transient_cap_seconds: float = 60.0
    throttled_base_seconds: float = 5.0
    policy_block_floor_seconds: float = 60.0
    max_delay_seconds: float = 300.0
    pacing_start_pct: float = 75.0
    pacing_full_pct: float = 95.0
    pacing_max_seconds: float = 10.0

    def __post_init__(self) -> None:
        for name in (
            "transient_base_seconds",
            "transient_cap_seconds",
            "throttled_base_seconds",
            "max_delay_seconds",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"BackoffPolicy.{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.pacing_start_pct < self.pacing_full_pct:
            raise ValueError(
                f"BackoffPolicy needs 0 <= pacing_start_pct < pacing_full_pct, got "
                f"{self.pacing_start_pct} and {self.pacing_full_pct}"
            )


DEFAULT_POLICY = BackoffPolicy()


def parse_usage_headers(headers: Mapping[str, str] | None) -> UsageSnapshot:
    """Read ``X-App-Usage``, ``X-Ad-Account-Usage`` and ``X-Business-Use-Case-Usage``.

    Header names match case-insensitively. Malformed JSON, unexpected shapes and non-numeric
    values are skipped rather than raised: a broken header must never fail a delivery.
    """
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    gauges: list[tuple[str, float]] = []
    regain_minutes = 0.0
    reset_seconds = 0.0

    app = _json_object(lowered.get(APP_USAGE_HEADER))
    if app is not None:
        gauges.extend(_percent_gauges("app", app))

    account = _json_object(lowered.get(AD_ACCOUNT_USAGE_HEADER))
    if account is not None:
        gauges.extend(_percent_gauges("ad_account", account))
        reset_seconds = max(reset_seconds, _number(account.get("reset_time_duration")) or 0.0)

    business = _json_object(lowered.get(BUSINESS_USE_CASE_USAGE_HEADER))
    for object_id, entries in (business or {}).items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict):
                continue
            kind = entry.get("type") if isinstance(entry.get("type"), str) else "unknown"
            gauges.extend(_percent_gauges(f"buc:{object_id}:{kind}", entry))
            regain = _number(entry.get("estimated_time_to_regain_access")) or 0.0
            regain_minutes = max(regain_minutes, regain)

    return UsageSnapshot(
        max_usage_pct=max((value for _, value in gauges), default=0.0),
        regain_access_seconds=regain_minutes * 60.0,
        reset_time_seconds=reset_seconds,
        retry_after_seconds=_retry_after(lowered.get("retry-after")),
        gauges=tuple(gauges),
    )


def backoff_seconds(
    attempt: int,
    error_class: ErrorClass,
    usage: UsageSnapshot,
    rng: random.Random,
    policy: BackoffPolicy = DEFAULT_POLICY,
) -> float:
    """How long to wait before retrying after failed attempt number ``attempt`` (1-based).

    - TRANSIENT: "equal jitter" exponential, ``e = min(cap, base * 2**(attempt-1))``, a
      uniform draw from ``[e/2, e]``. Half the window is guaranteed so a burst of failing
      callers never retries immediately; the other half spreads them out.
    - THROTTLED: ``max(regain_access, Retry-After, jittered exponential from a 5 s base)``
      (§6.3: "sleep max(estimated_time_to_regain_access x 60 s, exponential backoff)").
    - POLICY_BLOCK (code 368): as THROTTLED but never under ``policy_block_floor_seconds``,
      because §6.2 says to wait and retry slowly.

    Every result is capped at ``policy.max_delay_seconds``. PERMANENT and AUTH errors must
    not be retried, so asking for their backoff raises :class:`ValueError`.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    if not error_class.retryable:
        raise ValueError(f"{error_class.value} errors are never retried; no backoff exists")
    if error_class is ErrorClass.TRANSIENT:
        delay = _equal_jitter(attempt, policy.transient_base_seconds, policy.transient_cap_seconds, rng)
        return min(max(delay, usage.retry_after_seconds), policy.max_delay_seconds)
    exponential = _equal_jitter(attempt, policy.throttled_base_seconds, policy.max_delay_seconds, rng)
    delay = max(exponential, usage.regain_access_seconds, usage.retry_after_seconds)
    if error_class is ErrorClass.POLICY_BLOCK:
        delay = max(delay, policy.policy_block_floor_seconds)
    return min(delay, policy.max_delay_seconds)


def pacing_delay(usage: UsageSnapshot, policy: BackoffPolicy = DEFAULT_POLICY) -> float:
    """How long to wait before the next call so the limit is not hit (curve in module doc)."""
    pct = usage.max_usage_pct
    if pct < policy.pacing_start_pct:
        return 0.0
    if pct < policy.pacing_full_pct:
        span = policy.pacing_full_pct - policy.pacing_start_pct
        return policy.pacing_max_seconds * ((pct - policy.pacing_start_pct) / span) ** 2
    delay = max(
        policy.pacing_max_seconds,
        usage.regain_access_seconds,
        usage.retry_after_seconds,
    )
    return min(delay, policy.max_delay_seconds)


def _equal_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    # Exponent clamped so a large attempt number cannot overflow the float.
    window = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return window / 2.0 + rng.uniform(0.0, window / 2.0)


def _json_object(raw: str | None) -> dict[str, object] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _percent_gauges(prefix: str, document: Mapping[str, object]) -> list[tuple[str, float]]:
    gauges = []
    for field in _PERCENT_FIELDS:
        value = _number(document.get(field))
        if value is not None:
            gauges.append((f"{prefix}.{field}", value))
    return gauges


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _retry_after(raw: str | None) -> float:
    # Only the delta-seconds form: Graph does not send HTTP dates, and a proxy date would need
    # a wall clock, which would make this module impure.
    number = _number(raw.strip()) if raw else None
    return number or 0.0
