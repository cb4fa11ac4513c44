"""parse → validate → normalize + hash → records, without I/O."""

from __future__ import annotations

import json
import time

import pytest

from source_meta_capi.receiver.pipeline import (
    BodyError,
    RequestContext,
    derive_event_id,
    new_batch_id,
    parse_body,
    process,
)

NOW = 1_795_000_000
CONTEXT = RequestContext("123", "req-1", new_batch_id(), "verified:standard_webhooks")
RAW_PII = (
    "Joe@Example.com",
    "joe@example.com",
    "(650)555-1212",
    "Valéry",
    "Menlo Park",
    "94025-1234",
    "secret@mail.com",
)


def event(**overrides):
    base = {
        "event_name": "Lead",
        "event_time": NOW - 30,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {
            "em": "Joe@Example.com",
            "ph": "(650)555-1212",
            "fn": "Valéry",
            "ct": "Menlo Park",
            "zp": "94025-1234",
            "country": "US",
            "client_user_agent": "UA",
        },
        "custom_data": {"email": "secret@mail.com", "value": 1},
    }
    base.update(overrides)
    return base


def run(body, salt=None):
    return process(body, CONTEXT, NOW, salt=salt)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"data": [NaN]}', "malformed_json"),
        (b'{"data": Infinity}', "malformed_json"),
        (b"[1e400]", "malformed_json"),
        (b'{"a": "\xff"}', "malformed_json"),
        (b"{", "malformed_json"),
    ],
)
def test_given_non_json_body_when_parsing_then_400(raw: bytes, code: str) -> None:
    with pytest.raises(BodyError) as raised:
        parse_body(raw, "application/json")
    assert (raised.value.status, raised.value.code) == (400, code)


def test_given_form_body_when_parsing_then_data_array_or_one_per_event() -> None:
    from urllib.parse import urlencode

    events = [event(), event(event_name="Purchase")]
    body = parse_body(
        urlencode({"data": json.dumps(events), "test_event_code": "T1", "access_token": "x"}).encode(),
        "application/x-www-form-urlencoded",
    )
    assert len(body["data"]) == 2 and body["test_event_code"] == "T1" and "access_token" not in body
    many = parse_body(
        urlencode([("data", json.dumps(e)) for e in events]).encode(), "application/x-www-form-urlencoded"
    )
    assert len(many["data"]) == 2


def test_given_other_media_type_when_parsing_then_415() -> None:
    with pytest.raises(BodyError) as raised:
        parse_body(b"<x/>", "application/xml")
    assert raised.value.status == 415


@pytest.mark.parametrize(
    "body", [[], {"data": {}}, {"data": []}, {"data": [{}] * 1001}, {"data": [event()], "test_event_code": 5}]
)
def test_given_unusable_body_when_processing_then_422_naming_field(body) -> None:
    with pytest.raises(BodyError) as raised:
        run(body)
    assert raised.value.status == 422 and raised.value.field


def test_given_valid_event_when_processing_then_record_is_hashed_and_enveloped() -> None:
    intake = run({"data": [event(event_id="order-1")], "partner_agent": "shop_1_0"})
    (accepted,) = intake.accepted
    record = accepted.record
    assert record["user_data"]["em"] == ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"]
    assert record["user_data"]["ph"] == ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"]
    assert record["user_data"]["client_user_agent"] == "UA"
    assert "email" not in record["custom_data"]
    assert record["event_id"] == "order-1" and record["event_id_generated"] is False
    assert (record["pixel_id"], record["batch_id"], record["event_index"], record["request_id"]) == (
        "123",
        CONTEXT.batch_id,
        0,
        "req-1",
    )
    assert record["signature_status"] == "verified:standard_webhooks" and record["partner_agent"] == "shop_1_0"
    assert "custom_data.email: dropped: personal data key in custom_data" in record["normalization_warnings"]
    assert "pixel_id" not in accepted.forward and accepted.forward["event_id"] == "order-1"
    assert not any(value in json.dumps(record, ensure_ascii=False) for value in RAW_PII)


def test_given_no_event_id_when_processing_then_deterministic_generated_id_forwarded_too() -> None:
    first = run({"data": [event()]}).accepted[0]
    again = run({"data": [event()]}).accepted[0]
    assert first.event_id == again.event_id and first.event_id.startswith("capi-") and len(first.event_id) == 29
    assert first.record["event_id_generated"] is True and first.forward["event_id"] == first.event_id
    assert derive_event_id(first.forward) == first.event_id
    assert run({"data": [event(event_time=NOW - 31)]}).accepted[0].event_id != first.event_id


def test_given_identical_events_without_id_when_processing_then_second_rejected() -> None:
    intake = run({"data": [event(), event()]})
    assert [a.index for a in intake.accepted] == [0]
    assert [(r.index, r.field) for r in intake.rejections] == [(1, "event_id")]
    assert len(intake.dead_letters) == 1


def test_given_bad_events_when_processing_then_isolated_and_dead_lettered_without_raw_pii() -> None:
    bad_time = event(event_id="old", event_time=NOW - 8 * 86400)
    bad_user_data = {"event_name": "Lead", "event_time": NOW, "action_source": "email", "user_data": "Joe@Example.com"}
    intake = run({"data": [event(event_id="ok"), bad_time, bad_user_data, 42]})
    assert [a.event_id for a in intake.accepted] == ["ok"]
    letters = {letter["event_index"]: letter for letter in intake.dead_letters}
    assert set(letters) == {1, 2, 3}
    assert letters[1]["field"] == "event_time" and letters[1]["event_id"] == "old" and letters[1]["replayable"] is False
    assert letters[1]["event"]["user_data"]["em"] == [
        "2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"
    ]
    assert letters[2]["event"] == {"fields": ["action_source", "event_name", "event_time", "user_data"]}
    assert letters[3]["event"] is None
    assert len({letter["dead_letter_id"] for letter in intake.dead_letters}) == 3
    assert not any(value in json.dumps(intake.dead_letters, ensure_ascii=False) for value in RAW_PII)


def test_given_salt_when_processing_then_staged_copy_pseudonymized_forward_copy_not() -> None:
    accepted = run({"data": [event(event_id="x")]}, salt="pepper").accepted[0]
    assert accepted.record["user_data_pseudonymized"] is True
    assert accepted.record["user_data"]["em"] != accepted.forward["user_data"]["em"]
    assert accepted.forward["user_data"]["em"] == ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"]


def test_batch_id_is_unique_per_accepted_request() -> None:
    ids = {new_batch_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 and i.startswith("b") for i in ids)
    assert time.time() > 0


def test_given_test_events_not_allowed_when_body_has_test_event_code_then_every_event_refused_and_dead_lettered() -> (
    None
):
    body = {"data": [event(event_id="a"), event(event_id="b", event_time="late")], "test_event_code": "TEST1"}
    intake = process(body, CONTEXT, NOW, test_events_allowed=False)
    assert intake.accepted == ()
    refused = [(r.index, r.event_id) for r in intake.rejections if r.field == "test_event_code"]
    assert refused == [(0, "a"), (1, "b")]
    assert all("pixel 123" in r.reason for r in intake.rejections if r.field == "test_event_code")
    assert [letter["event_id"] for letter in intake.dead_letters] == ["a", "b"]
    assert not any(value in json.dumps(intake.dead_letters) for value in RAW_PII)


def test_given_test_events_not_allowed_when_body_has_no_test_event_code_then_accepted() -> None:
    intake = process({"data": [event(event_id="a")]}, CONTEXT, NOW, test_events_allowed=False)
    assert [e.event_id for e in intake.accepted] == ["a"] and intake.rejections == ()
