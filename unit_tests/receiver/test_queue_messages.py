"""The queue intake's message format: a processed request survives the queue byte for byte."""

from __future__ import annotations

import base64
import gzip

import pytest

from source_meta_capi.receiver.pipeline import RequestContext, new_batch_id, process
from source_meta_capi.receiver.queue_intake import MessageFormatError, decode_message, encode_message

NOW = 1_795_000_000
CONTEXT = RequestContext("123", "req-1", new_batch_id(), "verified:standard_webhooks", body_digest="sha256:ab")


def event(event_id: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "event_name": "Lead",
        "event_time": NOW - 30,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {
            "em": "Joe@Example.com",
            "country": "US",
            "client_user_agent": "UA",
            "client_ip_address": "203.0.113.9",
        },
        "custom_data": {"value": 12.5, "currency": "EUR", "note": "ünïcode \ufffe"},
    }
    body.update(overrides)
    return body


def test_given_processed_request_when_encoded_and_decoded_then_lines_are_the_same_bytes() -> None:
    intake = process(
        {"data": [event("a"), event("b"), {"event_name": "Lead"}], "test_event_code": "TEST1"}, CONTEXT, NOW
    )
    assert len(intake.accepted) == 2 and intake.dead_letters
    body = encode_message(intake, with_forward=True)
    assert body.isascii()  # SQS bodies are XML text: never a raw \ufffe or control character
    queued = decode_message(body)
    assert queued.pixel_id == "123" and queued.batch_id == CONTEXT.batch_id and queued.request_id == "req-1"
    assert queued.test_event_code == "TEST1"
    assert queued.event_lines == tuple(event.line for event in intake.accepted)
    assert queued.letter_lines == intake.dead_letter_lines
    assert [e["event_id"] for e in queued.forward] == ["a", "b"]
    assert decode_message(encode_message(intake, with_forward=False)).forward == ()


def test_given_single_event_request_when_encoded_then_well_inside_one_64_kib_billing_chunk() -> None:
    body = encode_message(process({"data": [event("a")]}, CONTEXT, NOW), with_forward=True)
    assert len(body) < 2048


@pytest.mark.parametrize(
    "body",
    [
        "not a request",
        base64.b64encode(b"not gzip").decode(),
        base64.b64encode(gzip.compress(b'{"v": 2}')).decode(),
        base64.b64encode(gzip.compress(b'{"v": 1, "pixel_id": "1"}')).decode(),
        base64.b64encode(gzip.compress(b"[1]")).decode(),
    ],
)
def test_given_foreign_message_when_decoded_then_message_format_error(body: str) -> None:
    with pytest.raises(MessageFormatError):
        decode_message(body)
