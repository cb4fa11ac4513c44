"""Parsing the Graph API's request forms, and Meta's error envelope."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from source_meta_capi.receiver.graph_requests import GraphCredentials, GraphError, parse_graph_request

EVENT = {"event_name": "Lead", "event_time": 1764150000, "event_id": "e1", "action_source": "email"}
FORM = "application/x-www-form-urlencoded"


def test_given_sdk_form_when_parsed_then_data_strings_decoded_and_token_kept_apart() -> None:
    # facebook-business 26.0.3: `data` is json.dumps of a list of json.dumps(event).
    raw = urlencode(
        {"data": json.dumps([json.dumps(EVENT), json.dumps({**EVENT, "event_id": "e2"})]), "upload_tag": "t"}
    )
    parsed = parse_graph_request(raw.encode(), FORM, [("access_token", "tok"), ("appsecret_proof", "ab")])
    assert [event["event_id"] for event in parsed.body["data"]] == ["e1", "e2"]
    assert parsed.body["upload_tag"] == "t" and "access_token" not in parsed.body
    assert parsed.credentials == GraphCredentials("tok", "ab", None)


def test_given_json_body_with_token_and_data_string_when_parsed_then_same_events() -> None:
    raw = json.dumps({"data": json.dumps([EVENT]), "access_token": "tok", "test_event_code": "TEST1"}).encode()
    parsed = parse_graph_request(raw, "application/json; charset=utf-8")
    assert parsed.body == {"data": [EVENT], "test_event_code": "TEST1"}
    assert parsed.credentials.access_token == "tok"


def test_given_one_data_field_per_event_when_parsed_then_all_events() -> None:
    raw = urlencode([("data", json.dumps(EVENT)), ("data", json.dumps({**EVENT, "event_id": "e2"}))]).encode()
    assert len(parse_graph_request(raw, FORM, authorization="Bearer tok").body["data"]) == 2


def test_given_multipart_form_when_parsed_then_fields_read() -> None:
    boundary = "xYzZY"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n{json.dumps([EVENT])}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="access_token"\r\n\r\ntok\r\n--{boundary}--\r\n'
    ).encode()
    parsed = parse_graph_request(raw, f"multipart/form-data; boundary={boundary}")
    assert parsed.body["data"] == [EVENT] and parsed.credentials.access_token == "tok"


def test_given_element_not_an_event_when_parsed_then_kept_for_per_event_rejection() -> None:
    parsed = parse_graph_request(json.dumps({"data": [EVENT, "not json", 3]}).encode(), "application/json")
    assert parsed.body["data"] == [EVENT, "not json", 3]


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"{", "application/json", "malformed_json"),
        (b"[]", "application/json", "invalid_body"),
        (b'{"test_event_code": "T"}', "application/json", "missing_data"),
        (b'{"data": 5}', "application/json", "invalid_body"),
        (b'{"data": [], "partner_agent": 5}', "application/json", "invalid_body"),
        (b"data=%7B", FORM, "malformed_json"),
        (b"a=1&&", FORM, "malformed_form"),
        (b"x", "text/plain", "unsupported_media_type"),
        (b"--nope", "multipart/form-data", "malformed_form"),
    ],
)
def test_given_unusable_body_when_parsed_then_invalid_parameter(raw: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(GraphError) as refused:
        parse_graph_request(raw, content_type)
    assert (refused.value.status, refused.value.code, refused.value.reason) == (400, 100, reason)


def test_given_two_different_tokens_or_a_bad_authorization_when_parsed_then_refused() -> None:
    raw = json.dumps({"data": [EVENT], "access_token": "a"}).encode()
    with pytest.raises(GraphError, match="access_token is given more than once"):
        parse_graph_request(raw, "application/json", [("access_token", "b")])
    assert parse_graph_request(raw, "application/json", [("access_token", "a")]).credentials.access_token == "a"
    with pytest.raises(GraphError, match="Authorization"):
        parse_graph_request(raw, "application/json", authorization="Basic abc")


def test_given_graph_error_when_rendered_then_metas_envelope_and_no_secret_in_repr() -> None:
    error = GraphError(400, 190, "Invalid OAuth access token", reason="access_token_invalid", subcode=463)
    assert error.body("trace1") == {
        "error": {
            "message": "Invalid OAuth access token",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "is_transient": False,
            "fbtrace_id": "trace1",
        }
    }
    assert "secret-token" not in repr(GraphCredentials("secret-token", "proof", "1"))
