"""The request pipeline after authentication: parse → validate → normalize + hash → records.

Pure (no I/O): turns a verified raw body into the records to stage (events and dead letters),
each already encoded to its JSON line, the events to forward, and the answer's rejections. Staging and forwarding happen elsewhere
(group_commit.py, forwarding.py). Meta rejects a whole batch for one bad event (fact sheet §1.2),
so bad events are isolated here: good ones go on, bad ones are answered and dead-lettered. An
event whose record cannot be encoded (JSON nested past orjson's limit) is one of the bad ones:
encoding happens here, per event, so it can never fail the group commit it would have joined.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Optional
from urllib.parse import parse_qsl

import orjson

from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import EventRejection, event_id_of, validate_batch
from source_meta_capi.capi.user_data_normalization import pseudonymize
from source_meta_capi.receiver.dead_letters import field_names_copy, intake_dead_letter
from source_meta_capi.staging.records import encode_line

GENERATED_EVENT_ID_PREFIX = "capi-"
# The field a rejection names when the pixel does not take test events.
TEST_EVENT_FIELD = "test_event_code"


class BodyError(Exception):
    """The body cannot be used at all. `status` is the HTTP status; `field` names what is wrong."""

    def __init__(self, status: int, code: str, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class RequestContext:
    """Who sent the batch and how it is identified.

    `batch_id` is unique per accepted request (`new_batch_id`); `body_digest` (`body_digest`
    of the raw bytes) is what a retry shares with the original: intake dead letters take their
    ids from it.
    """

    pixel_id: str
    request_id: str
    batch_id: str
    signature_status: str
    webhook_id: Optional[str] = None
    body_digest: Optional[str] = None


@dataclass(frozen=True)
class AcceptedEvent:
    """One event ready to stage (`record`, without the writer's fields; `line`, the record
    encoded by `records.encode_line`) and forward (`forward`)."""

    index: int
    event_id: str
    record: dict[str, Any]
    forward: dict[str, Any]
    # WarningKind of each normalization warning, for the normalization_warnings metric.
    warning_kinds: tuple[str, ...] = ()
    line: bytes = b""


@dataclass(frozen=True)
class Intake:
    """What a request's body turned into."""

    context: RequestContext
    events_received: int
    accepted: tuple[AcceptedEvent, ...]
    rejections: tuple[EventRejection, ...]
    dead_letters: tuple[dict[str, Any], ...]
    test_event_code: Optional[str] = None
    partner_agent: Optional[str] = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # `dead_letters` encoded by `records.encode_line` (same order); empty: not encoded yet.
    dead_letter_lines: tuple[bytes, ...] = ()

    @property
    def accepted_event_ids(self) -> list[str]:
        return [event.event_id for event in self.accepted]


def new_batch_id() -> str:
    """A fresh batch id for an accepted request: unique, so that a retried request forwarded
    again never reuses the `(pixel_id, batch_id, attempt)` keys of the original's statuses."""
    return "b" + secrets.token_hex(16)[:31]


def body_digest(raw: bytes) -> str:
    """What identifies a request's content: the same for a retry, new for a different body."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_body(raw: bytes, content_type: Optional[str]) -> Any:
    """Parse a CAPI request body: JSON, or a form whose `data` is a JSON array (Meta's curl style).

    Strict JSON: NaN, Infinity, numbers that overflow a double, invalid UTF-8 and lone surrogates
    are refused (orjson), so nothing unrepresentable reaches a staged record.
    """
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media in ("application/json", "text/json", "") or media.endswith("+json"):
        return _json(raw, "body")
    if media == "application/x-www-form-urlencoded":
        return _form(raw)
    raise BodyError(
        415, "unsupported_media_type", f"Content-Type {media!r} is not accepted; send application/json", "content-type"
    )


def _json(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BodyError(
            400, "malformed_json", f"{where} is not valid JSON: {error.msg} at position {error.pos}", where
        ) from error


def _form(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=2100)
    except (UnicodeDecodeError, ValueError) as error:
        raise BodyError(400, "malformed_form", "the form body cannot be parsed as UTF-8 url-encoded fields") from error
    body: dict[str, Any] = {}
    data: list[Any] = []
    for name, value in pairs:
        if name == "data" or name == "data[]":
            parsed = _json(value, "data")
            # `data=[...]` (a JSON array) or one `data=` per event (each a JSON object), §1.1.
            data.extend(parsed if isinstance(parsed, list) else [parsed])
        elif name in ("test_event_code", "partner_agent"):
            body[name] = value
    body["data"] = data
    return body


def process(
    body: Any,
    context: RequestContext,
    now: float,
    *,
    default_country: Optional[str] = None,
    salt: Optional[str] = None,
    today: Optional[date] = None,
    test_events_allowed: bool = True,
) -> Intake:
    """Validate, normalize and hash a parsed body. Raises BodyError(422) when the body itself is unusable.

    With `test_events_allowed` false, a body carrying test_event_code has every event refused
    (field `test_event_code`): test events must not reach a production pixel.
    """
    validation = validate_batch(body, now)
    if validation.body_rejected:
        rejection = next(r for r in validation.rejections if r.index is None)
        raise BodyError(422, "invalid_body", rejection.reason, rejection.field)
    events: list[Any] = body["data"]
    rejections = list(validation.rejections)
    accepted: list[AcceptedEvent] = []
    generated: dict[str, int] = {}
    valid_indices = validation.valid_indices
    if validation.test_event_code is not None and not test_events_allowed:
        reason = (
            f"test events are not accepted for pixel {context.pixel_id} "
            "(META_CAPI_TEST_EVENT_PIXELS does not list it); send test_event_code only to test pixels"
        )
        rejections.extend(
            EventRejection(index, event_id_of(event), TEST_EVENT_FIELD, reason) for index, event in enumerate(events)
        )
        valid_indices = ()
    for index in valid_indices:
        normalized = normalize_event(events[index], default_country, today)
        if normalized.rejection is not None:
            rejections.append(EventRejection(index, event_id_of(events[index]), "user_data", normalized.rejection))
            continue
        forward = normalized.event
        event_id = event_id_of(forward)
        was_generated = event_id is None
        if event_id is None:
            event_id = derive_event_id(forward)
            if event_id in generated:
                rejections.append(
                    EventRejection(
                        index,
                        None,
                        "event_id",
                        f"identical to event {generated[event_id]} of this request and without event_id; Meta would count it once",
                    )
                )
                continue
            generated[event_id] = index
            forward["event_id"] = event_id
        record = dict(forward)
        if salt:
            record["user_data"] = pseudonymize(forward.get("user_data") or {}, salt)
            record["user_data_pseudonymized"] = True
        record.update(
            pixel_id=context.pixel_id,
            batch_id=context.batch_id,
            event_index=index,
            request_id=context.request_id,
            signature_status=context.signature_status,
            test_event_code=validation.test_event_code,
            partner_agent=validation.partner_agent,
            event_id_generated=was_generated,
            normalization_warnings=[f"{w.field}: {w.reason}" for w in normalized.warnings],
        )
        try:
            line = encode_line(record)
        except TypeError as error:
            field_name, reason = _unencodable(record, error)
            rejections.append(EventRejection(index, event_id_of(events[index]), field_name, reason))
            continue
        kinds = tuple(warning.kind for warning in normalized.warnings)
        accepted.append(AcceptedEvent(index, event_id, record, forward, kinds, line))
    rejections.sort(key=lambda r: r.index if r.index is not None else -1)
    by_index: dict[int, list[EventRejection]] = {}
    for rejection in rejections:
        if rejection.index is not None:
            by_index.setdefault(rejection.index, []).append(rejection)
    dead_letters = tuple(
        _encodable(
            intake_dead_letter(
                context.pixel_id,
                context.batch_id,
                context.request_id,
                index,
                events[index],
                reasons,
                default_country,
                content_digest=context.body_digest,
            )
        )
        for index, reasons in sorted(by_index.items())
    )
    return Intake(
        context=context,
        events_received=len(events),
        accepted=tuple(accepted),
        rejections=tuple(rejections),
        dead_letters=tuple(letter for letter, _ in dead_letters),
        test_event_code=validation.test_event_code,
        partner_agent=validation.partner_agent,
        dead_letter_lines=tuple(line for _, line in dead_letters),
    )


def _unencodable(record: Mapping[str, Any], error: TypeError) -> tuple[str, str]:
    """The field whose value cannot be staged, and why (never the value)."""
    field_name = "event"
    for key, value in record.items():
        try:
            encode_line({key: value})
        except TypeError:
            field_name = str(key)[:100]
            break
    why = "is nested too deeply" if "ecursion" in str(error) else "is not representable as JSON"
    return field_name, f"{field_name} {why} to be staged (JSON nesting is limited to 254 levels)"


def _encodable(letter: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A dead letter and its line; a letter whose event copy cannot be encoded keeps only the
    event's field names (a letter must never fail the group commit it joins)."""
    try:
        return letter, encode_line(letter)
    except TypeError:
        safe = {**letter, "event": field_names_copy(letter.get("event"))}
        return safe, encode_line(safe)


def derive_event_id(event: Mapping[str, Any]) -> str:
    """A deterministic event_id from the normalized event's content, so that a retry of the same
    event gets the same id and Meta deduplicates it (§5)."""
    canonical = json.dumps(
        {k: v for k, v in event.items() if k != "event_id"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return GENERATED_EVENT_ID_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def rejection_json(rejection: EventRejection) -> dict[str, Any]:
    """A rejection as the answer and logs show it: index, event_id, field, reason (never a value)."""
    return {
        "index": rejection.index,
        "event_id": rejection.event_id,
        "field": rejection.field,
        "reason": rejection.reason,
    }
