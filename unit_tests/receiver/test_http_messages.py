"""Reading bounded bodies, the request headers the events endpoint uses, and the error answer."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.requests import ClientDisconnect, Request

from source_meta_capi.receiver.http_messages import (
    ApiError,
    PayloadTooLargeError,
    RequestHeaders,
    read_limited,
    request_id_of,
    signature_headers,
)
from source_meta_capi.receiver.signatures import SignatureError


def request_with(messages: list[dict], headers: list[tuple[bytes, bytes]] = ()) -> Request:
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return Request({"type": "http", "method": "POST", "headers": list(headers)}, receive)


def body_chunks(*chunks: bytes) -> list[dict]:
    return [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]


def test_given_body_in_chunks_when_read_then_joined() -> None:
    assert asyncio.run(read_limited(request_with(body_chunks(b"ab", b"", b"cd")), 10)) == b"abcd"
    assert asyncio.run(read_limited(request_with(body_chunks(b"")), 10)) == b""


def test_given_body_over_the_limit_without_content_length_when_read_then_refused_before_the_end() -> None:
    request = request_with(body_chunks(b"12345", b"67890", b"never read"))
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read_limited(request, 8))


def test_given_declared_length_over_the_limit_or_malformed_when_read_then_refused_unread() -> None:
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read_limited(request_with([]), 8, "9"))
    with pytest.raises(ValueError, match="Content-Length"):
        asyncio.run(read_limited(request_with([]), 8, "-1"))


def test_given_client_disconnects_when_read_then_client_disconnect() -> None:
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_limited(request_with([{"type": "http.disconnect"}]), 8))


def test_given_raw_headers_when_snapshotted_then_first_value_and_all_values_like_starlette() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"webhook-id", b"msg_1"),
        (b"x-other", b"ignored"),
        (b"webhook-id", b"msg_2"),
    ]
    headers = RequestHeaders(raw)
    assert headers.get("content-type") == "application/json" and headers.get("content-length") is None
    assert headers.get("webhook-id") == "msg_1" and headers.getlist("webhook-id") == ["msg_1", "msg_2"]
    with pytest.raises(SignatureError, match="appears 2 times"):
        signature_headers(headers)
    assert signature_headers(RequestHeaders(raw[:2])) == {"webhook-id": "msg_1"}


def test_given_request_id_header_when_safe_then_kept_else_a_new_random_one() -> None:
    assert request_id_of(RequestHeaders([(b"x-request-id", b"abc-123")])) == "abc-123"
    generated = {request_id_of(RequestHeaders([(b"x-request-id", b"bad id!")])) for _ in range(3)}
    assert len(generated) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", value) for value in generated)


def test_given_api_error_when_rendered_then_the_one_error_shape_with_headers_and_extra() -> None:
    error = ApiError(
        409,
        "request_in_progress",
        "retry later",
        pixel_id="123",
        field="webhook-id",
        event_ids=("e1",),
        headers={"Retry-After": "7"},
        extra={"batch_id": "b1"},
    )
    response = error.response("req-1")
    assert response.status_code == 409 and response.headers["retry-after"] == "7"
    assert response.body == (
        b'{"error":{"code":"request_in_progress","message":"retry later","pixel_id":"123","event_ids":["e1"],'
        b'"field":"webhook-id","request_id":"req-1","batch_id":"b1"}}'
    )


def test_given_api_error_without_details_when_rendered_then_nulls_and_no_extra_headers() -> None:
    response = ApiError(404, "not_found", "Not Found", field="path").response("r")
    assert response.body == (
        b'{"error":{"code":"not_found","message":"Not Found","pixel_id":null,"event_ids":[],"field":"path","request_id":"r"}}'
    )
    assert {name for name, _ in response.raw_headers} == {b"content-length", b"content-type"}
