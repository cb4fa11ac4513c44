"""Parsing, classifying and describing Graph API errors (fact sheet §6.1, §6.2)."""

from __future__ import annotations

import json

import pytest

from source_meta_capi.capi.graph_errors import (
    ErrorClass,
    GraphError,
    classify,
    describe_for_user,
    parse_graph_error,
    redact_secrets,
    transport_error,
)

# The real CAPI error captured in RudderStack's fixtures (§6.1).
EVENT_TOO_OLD = {
    "error": {
        "message": "Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 2804003,
        "is_transient": False,
        "error_user_title": "Event Timestamp Too Old",
        "error_user_msg": "The timestamp for this event is too far in the past.",
        "error_data": {"blame_field_specs": [["data", "3", "event_time"]]},
        "fbtrace_id": "A6UyEgg_HdoiRX9duxcBOjb",
    }
}


def _error(code: int | None, subcode: int | None = None, **extra: object) -> GraphError:
    envelope: dict[str, object] = {"message": "m", "type": "OAuthException", "code": code}
    if subcode is not None:
        envelope["error_subcode"] = subcode
    envelope.update(extra)
    return parse_graph_error(400, {}, json.dumps({"error": envelope}))


def test_given_the_documented_envelope_when_parsed_then_every_field_is_read() -> None:
    error = parse_graph_error(400, {}, json.dumps(EVENT_TOO_OLD).encode())

    assert error == GraphError(
        http_status=400,
        code=100,
        subcode=2804003,
        type="OAuthException",
        message="Invalid parameter",
        user_title="Event Timestamp Too Old",
        user_msg="The timestamp for this event is too far in the past.",
        is_transient=False,
        fbtrace_id="A6UyEgg_HdoiRX9duxcBOjb",
        blame_field_specs=(("data", "3", "event_time"),),
        body_kind="json",
    )
    assert error.error_class is ErrorClass.PERMANENT
    assert error.code_label == "100/2804003"


def test_given_error_data_as_a_json_string_when_parsed_then_blame_specs_are_extracted() -> None:
    body = {"error": {"code": 100, "message": "x", "error_data": '{"blame_field_specs":[["a"]]}'}}

    assert parse_graph_error(400, None, json.dumps(body)).blame_field_specs == (("a",),)


@pytest.mark.parametrize("error_data", ["not json", "[1]", 7, None, {"blame_field_specs": "x"}])
def test_given_odd_error_data_when_parsed_then_no_blame_specs(error_data: object) -> None:
    body = {"error": {"code": 100, "message": "x", "error_data": error_data}}

    assert parse_graph_error(400, None, json.dumps(body)).blame_field_specs == ()


@pytest.mark.parametrize(
    ("status", "body", "kind", "expected"),
    [
        (502, b"<!DOCTYPE html><html><body>Bad gateway</body></html>", "html", ErrorClass.TRANSIENT),
        (400, "  <html>oops</html>", "html", ErrorClass.TRANSIENT),
        (503, b"", "empty", ErrorClass.TRANSIENT),
        (429, None, "empty", ErrorClass.THROTTLED),
        (400, b"plain words", "text", ErrorClass.PERMANENT),
        (401, b"", "empty", ErrorClass.AUTH),
        (500, b'{"unexpected": true}', "json", ErrorClass.TRANSIENT),
        (408, b"", "empty", ErrorClass.TRANSIENT),
    ],
)
def test_given_a_body_without_a_graph_error_when_parsed_then_status_and_shape_decide(
    status: int, body: bytes | str | None, kind: str, expected: ErrorClass
) -> None:
    error = parse_graph_error(status, {"X-FB-Trace-ID": "trace-h"}, body)

    assert (error.code, error.body_kind, error.fbtrace_id) == (None, kind, "trace-h")
    assert classify(error) is expected
    assert str(status) in error.message


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (1, None, ErrorClass.TRANSIENT),
        (1, 99, ErrorClass.TRANSIENT),
        (2, None, ErrorClass.TRANSIENT),
        (4, 1504022, ErrorClass.THROTTLED),
        (17, 2446079, ErrorClass.THROTTLED),
        (32, None, ErrorClass.THROTTLED),
        (341, None, ErrorClass.THROTTLED),
        (613, 1487742, ErrorClass.THROTTLED),
        (80000, None, ErrorClass.THROTTLED),
        (80014, None, ErrorClass.THROTTLED),
        (368, None, ErrorClass.POLICY_BLOCK),
        (10, None, ErrorClass.AUTH),
        (200, None, ErrorClass.AUTH),
        (294, None, ErrorClass.AUTH),
        (299, None, ErrorClass.AUTH),
        (102, None, ErrorClass.AUTH),
        (190, 463, ErrorClass.AUTH),
        (190, None, ErrorClass.AUTH),
        (100, 33, ErrorClass.AUTH),
        (100, 2804003, ErrorClass.PERMANENT),
        (100, 2804009, ErrorClass.PERMANENT),
        (100, None, ErrorClass.PERMANENT),
        (2500, None, ErrorClass.PERMANENT),
        (12345, None, ErrorClass.PERMANENT),
    ],
)
def test_given_a_graph_code_when_classified_then_the_fact_sheet_class(
    code: int, subcode: int | None, expected: ErrorClass
) -> None:
    assert _error(code, subcode).error_class is expected


def test_given_an_unknown_code_with_a_5xx_when_classified_then_transient() -> None:
    body = json.dumps({"error": {"code": 5000, "message": "x"}})

    assert parse_graph_error(500, {}, body).error_class is ErrorClass.TRANSIENT
    assert parse_graph_error(429, {}, body).error_class is ErrorClass.THROTTLED


def test_given_is_transient_when_classified_then_transient_unless_throttling() -> None:
    assert _error(100, 2804003, is_transient=True).error_class is ErrorClass.TRANSIENT
    assert _error(17, is_transient=True).error_class is ErrorClass.THROTTLED


def test_given_codes_as_strings_when_parsed_then_they_are_read_as_integers() -> None:
    error = parse_graph_error(400, {}, '{"error": {"code": "190", "error_subcode": "463"}}')

    assert (error.code, error.subcode, error.message) == (190, 463, "(no message)")


def test_given_a_transport_failure_then_transient_without_status() -> None:
    error = transport_error("Request failed: ConnectionError")

    assert (error.http_status, error.body_kind, error.error_class) == (
        None,
        "none",
        ErrorClass.TRANSIENT,
    )
    assert error.code_label == "no response"


@pytest.mark.parametrize(
    ("code", "subcode", "expected_fragments"),
    [
        (190, 463, ["Access token is invalid or expired (190/463) for pixel 123", "expired"]),
        (100, 33, ["The token has no access to pixel 123 (100/33)", "system user"]),
        (200, None, ["lacks a permission needed for pixel 123 (200)"]),
        (102, None, ["session expired (102) for pixel 123"]),
        (17, None, ["rate limit was reached (17) for pixel 123"]),
        (368, None, ["policy violation (368)"]),
        (2500, None, ["does not know this path (2500)"]),
        (2, None, ["temporary error (2) for pixel 123"]),
        (100, 2804009, ["Meta rejected the request for pixel 123 (100/2804009)", "not retried"]),
    ],
)
def test_given_an_error_when_described_then_the_message_is_actionable(
    code: int, subcode: int | None, expected_fragments: list[str]
) -> None:
    text = describe_for_user(_error(code, subcode, fbtrace_id="T1"), "123")

    for fragment in expected_fragments:
        assert fragment in text
    assert text.endswith("(fbtrace_id T1)")


def test_given_a_payload_error_when_described_then_meta_user_texts_are_quoted() -> None:
    text = describe_for_user(parse_graph_error(400, {}, json.dumps(EVENT_TOO_OLD)), "9")

    assert "Event Timestamp Too Old: The timestamp for this event is too far" in text


def test_given_a_message_echoing_a_token_when_parsed_or_described_then_it_is_masked() -> None:
    body = {
        "error": {
            "code": 190,
            "message": "Bad token EAABsecretsecretsecret123 in ?access_token=EAABzz&x=1",
            "error_user_msg": "Authorization: Bearer abc.def",
        }
    }
    error = parse_graph_error(400, {}, json.dumps(body))

    assert "secret" not in error.message and "EAABzz" not in error.message
    assert error.user_msg == "Authorization: Bearer ***"
    assert "EAAB" not in describe_for_user(error, "1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://graph.facebook.com/v26.0/1/stats?access_token=EAAB1&after=x",
            "https://graph.facebook.com/v26.0/1/stats?access_token=***&after=x",
        ),
        ("appsecret_proof=abc123&appsecret_time=1", "appsecret_proof=***&appsecret_time=1"),
        ("client_secret=s3cr3t", "client_secret=***"),
        ("input_token=t&fb_exchange_token=u", "input_token=***&fb_exchange_token=***"),
        ('{"access_token": "tok"}', '{"access_token": "***"}'),
        ("ACCESS_TOKEN%3Dtok&", "ACCESS_TOKEN%3D***&"),
        ("Authorization: Bearer EAAB.x-y", "Authorization: Bearer ***"),
        ("app token 123456|abcdefghijklmnopqrstuv", "app token ***"),
        ("fbtrace_id AbCdEf123 stays", "fbtrace_id AbCdEf123 stays"),
    ],
)
def test_given_secrets_in_text_when_redacted_then_they_are_masked(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_given_literal_secrets_when_redacted_then_they_are_masked_anywhere() -> None:
    assert redact_secrets("token plain-tok here", ["plain-tok", ""]) == "token *** here"
