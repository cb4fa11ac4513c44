"""The checks :class:`~integration_tests.support.graph_stand_in.GraphStandIn` applies, as Meta would.

Event shape (fact sheet §1.2, §2), ``appsecret_proof`` (§7.4) and Graph time parameters
(§8.2). Each failure raises :class:`StandInError`, which the stand-in turns into a Graph
error body (§6.1).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from source_meta_capi.capi.appsecret_proof import appsecret_proof, appsecret_proof_timed

__all__ = ["StandInError", "check_appsecret_proof", "parse_time", "validate_events"]

MAX_EVENTS = 1000
_DAY = 86400


class StandInError(Exception):
    """A Graph error the stand-in answers with."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        type: str = "OAuthException",
        user_title: str | None = None,
        user_msg: str | None = None,
        error_data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.type = type
        self.user_title = user_title
        self.user_msg = user_msg
        self.error_data = error_data


def validate_events(data: Any, now: float) -> list[dict[str, Any]]:
    """Return the events of a ``data`` parameter (array, or a JSON string of one) or raise."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise StandInError(400, 100, "(#100) param data must be an array.") from exc
    if not isinstance(data, list) or not data:
        raise StandInError(400, 100, "(#100) param data must be a non-empty array.")
    if len(data) > MAX_EVENTS:
        raise StandInError(400, 100, f"(#100) param data must have at most {MAX_EVENTS} elements.")
    events = [json.loads(item) if isinstance(item, str) else item for item in data]
    for index, event in enumerate(events):
        _validate_event(index, event, now)
    return events


def _validate_event(index: int, event: Any, now: float) -> None:
    if not isinstance(event, dict):
        raise StandInError(400, 100, f"(#100) data[{index}] must be an object.")
    for name in ("event_name", "action_source"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise StandInError(400, 100, f"(#100) The parameter {name} is required")
    event_time = event.get("event_time")
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        raise StandInError(400, 100, "(#100) param event_time must be an integer.")
    max_age_days = 62 if event["action_source"] == "physical_store" else 7
    if now - event_time > max_age_days * _DAY:
        raise StandInError(
            400,
            100,
            "Invalid parameter",
            subcode=2804003,
            user_title="Event Timestamp Too Old",
            user_msg=(
                "The timestamp for this event is too far in the past. Events need to be sent "
                f"from your server within {max_age_days} days of when they occurred."
            ),
            error_data={"blame_field_specs": [["event_time"]]},
        )
    if not isinstance(event.get("user_data"), dict):
        raise StandInError(400, 100, "(#100) The parameter user_data is required")


def check_appsecret_proof(app_secret: str, token: str, params: Mapping[str, Any], now: float, max_age: int) -> None:
    """Raise unless ``params`` carry a valid classic or time-stamped proof for ``token``."""
    proof = params.get("appsecret_proof")
    if not isinstance(proof, str) or not proof:
        raise StandInError(
            400,
            100,
            "API calls from the server require an appsecret_proof argument",
            type="GraphMethodException",
        )
    raw_time = params.get("appsecret_time")
    if raw_time is None:
        expected = appsecret_proof(app_secret, token)
    else:
        try:
            at = int(str(raw_time))
        except ValueError:
            at = -1
        if at < 0 or abs(now - at) > max_age:
            raise StandInError(400, 100, "Invalid appsecret_proof provided in the API argument (expired)")
        expected, _ = appsecret_proof_timed(app_secret, token, at)
    if not hmac.compare_digest(proof, expected):
        raise StandInError(400, 100, "Invalid appsecret_proof provided in the API argument")


def parse_time(value: Any, name: str) -> float | None:
    """A Graph time parameter (Unix seconds, ``YYYY-MM-DD`` or Graph datetime) as Unix seconds."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return float(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise StandInError(400, 100, f"(#100) param {name} must be a valid datetime") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
