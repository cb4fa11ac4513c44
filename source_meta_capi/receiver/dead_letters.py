"""Dead-letter records: events refused at intake, refused by Meta, or not delivered in budget.

A dead letter keeps the event as it would be sent to Meta (user_data normalized and hashed,
custom_data stripped of personal data) so that it can be inspected and, when `replayable`,
redriven. When an event cannot be normalized safely (user_data or custom_data of the wrong
type), only its field names are kept: raw personal data never reaches a dead letter.

`dead_letter_id` is derived from what the letter is about, so a retried request or a second
forwarder writing the same letter produces the same id and the stream dedups on it. For intake
letters that is the request's content (body digest + event index), not its batch id: every
accepted request gets a new batch id, a retry included (staging-format.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import EventRejection
from source_meta_capi.capi.payload_limits import check_event_limits

STAGE_INTAKE = "intake"  # refused by our validation; the caller was told (never replayable)
STAGE_META_REJECTED = "meta_rejected"  # Meta refused the event alone with a permanent error
STAGE_FORWARDING = "forwarding"  # retry budget or auth failure: replayable once fixed
STAGE_EXPIRED = "expired"  # left Meta's time window before it could be delivered
_MAX_FIELD_NAMES = 100
_MAX_TEXT = 500


def dead_letter_id(pixel_id: str, batch_id: str, stage: str, subject: str) -> str:
    """Deterministic id of the letter about `subject` (an event index or event id) of a batch."""
    digest = hashlib.sha256(f"{pixel_id}\x1f{batch_id}\x1f{stage}\x1f{subject}".encode()).hexdigest()
    return f"dl-{digest[:32]}"


def safe_event_copy(event: Any, default_country: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The event with user_data hashed and custom_data cleaned, or only its field names."""
    if not isinstance(event, Mapping):
        return None
    user_data = event.get("user_data")
    custom_data = event.get("custom_data")
    # An event past a size limit is copied by its field names only: normalizing it could blow
    # the recursion limit and encoding it orjson's depth limit.
    if (
        check_event_limits(event) is None
        and (user_data is None or isinstance(user_data, Mapping))
        and (custom_data is None or isinstance(custom_data, Mapping))
    ):
        try:
            return normalize_event(event, default_country).event
        except Exception:  # normalization was not designed for invalid input; fall back to names
            pass
    return field_names_copy(event)


def field_names_copy(event: Any) -> Optional[dict[str, Any]]:
    """Only the event's top-level field names (truncated): what a letter keeps of an event it
    cannot carry whole."""
    if not isinstance(event, Mapping):
        return None
    return {"fields": sorted(str(key)[:100] for key in event)[:_MAX_FIELD_NAMES]}


def intake_dead_letter(
    pixel_id: str,
    batch_id: str,
    request_id: str,
    index: int,
    event: Any,
    rejections: Sequence[EventRejection],
    default_country: Optional[str] = None,
    *,
    content_digest: Optional[str] = None,
) -> dict[str, Any]:
    """The letter of an event refused at intake, carrying every reason it was refused.

    Its id comes from `content_digest` (the request body's digest) and the event's index, so a
    retried request writes the same letter under the same id; without a digest, from the batch.
    """
    first = rejections[0]
    copy = safe_event_copy(event, default_country)
    return {
        "dead_letter_id": dead_letter_id(pixel_id, content_digest or batch_id, STAGE_INTAKE, str(index)),
        "pixel_id": pixel_id,
        "stage": STAGE_INTAKE,
        "reason": "; ".join(f"{r.field}: {r.reason}" for r in rejections)[:_MAX_TEXT],
        "field": first.field,
        "batch_id": batch_id,
        "event_id": first.event_id,
        "event_index": index,
        "event_name": _text(event, "event_name"),
        "event_time": _int(event, "event_time"),
        "replayable": False,
        "attempts": 0,
        "event": copy,
        "request_id": request_id,
    }


def delivery_dead_letter(
    pixel_id: str,
    batch_id: str,
    event: Mapping[str, Any],
    stage: str,
    reason: str,
    *,
    replayable: bool,
    attempts: int,
    error_code: Optional[int] = None,
    error_subcode: Optional[int] = None,
    event_index: Optional[int] = None,
    request_id: Optional[str] = None,
) -> dict[str, Any]:
    """The letter of an accepted event that Meta refused or that could not be delivered.

    `event` is the forwardable copy (already normalized and hashed), kept whole so a replay sends
    exactly what was accepted.
    """
    event_id = str(event.get("event_id"))
    return {
        "dead_letter_id": dead_letter_id(pixel_id, batch_id, stage, event_id),
        "pixel_id": pixel_id,
        "stage": stage,
        "reason": reason[:_MAX_TEXT],
        "field": None,
        "error_code": error_code,
        "error_subcode": error_subcode,
        "batch_id": batch_id,
        "event_id": event_id,
        "event_index": event_index,
        "event_name": _text(event, "event_name"),
        "event_time": _int(event, "event_time"),
        "replayable": replayable,
        "attempts": attempts,
        "event": dict(event),
        "request_id": request_id,
    }


def _text(event: Any, name: str) -> Optional[str]:
    value = event.get(name) if isinstance(event, Mapping) else None
    return value[:200] if isinstance(value, str) else None


def _int(event: Any, name: str) -> Optional[int]:
    value = event.get(name) if isinstance(event, Mapping) else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53 else None
