"""Scenario 6: hostile input. Hypothesis generates requests (malformed JSON, wrong types, huge
arrays, deep nesting, NaN/Infinity, invalid UTF-8, oversized and compressed bodies, form bodies,
pixel ids with path tricks, odd and injected headers), most of them validly signed so they reach
the parser. Never a 5xx, never an exception, every refusal explained, nothing written outside the
store's prefix or outside the key layout. A smaller set goes through a real uvicorn on raw sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import time
import uuid
import zlib
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_tests.reliability import audit
from integration_tests.reliability.asgi_client import RawResponse, call
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.traffic import PIXEL, SECRET, make_event, sign
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.receiver.signatures import parse_webhook_secret
from source_meta_capi.staging.keys import parse_object_key
from source_meta_capi.staging.local_store import LocalFolderStore

MAX_BODY = 64 * 1024

HOSTILE_PIXELS = [
    "..",
    "%2e%2e",
    "%2E%2E%2F..%2Fevents",
    "..%2f..%2fetc",
    "1%2f..%2f2",
    "123%00",
    "１２３",  # fullwidth digits
    "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes
    "123\u202e",
    "~root",
    "-1",
    "1e5",
    "%20123",
    "9" * 21,
    "0x10",
    "123;rm",
    "%252e%252e",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/vnd.api+json",
    "",
    "application/json\r\nX-Injected: 1",
]
ENCODINGS = [*([None] * 12), "gzip", "deflate", "br", "identity", " GZIP ", "x-evil"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
EVENT_FIELDS = [
    "event_name",
    "event_time",
    "event_id",
    "action_source",
    "user_data",
    "custom_data",
    "event_source_url",
    "opt_out",
    "data_processing_options",
]


@st.composite
def mutated_batches(draw: Any) -> bytes:
    """A realistic batch whose events have fields replaced, dropped or added with arbitrary JSON."""
    events = []
    for _ in range(draw(st.integers(1, 4))):
        event = make_event(f"h-{uuid.uuid4().hex[:8]}", tag="hostile")
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from([*EVENT_FIELDS, "em", "__proto__", "x" * 300]))
            if draw(st.booleans()):
                event.pop(name, None)
            else:
                event[name] = draw(json_values)
        if draw(st.booleans()):
            user_data = event.get("user_data")
            if isinstance(user_data, dict):
                user_data[draw(st.sampled_from(["em", "ph", "zp", "db", "ge", "external_id"]))] = draw(json_values)
        events.append(event)
    body: Any = {"data": events}
    if draw(st.booleans()):
        body[draw(st.sampled_from(["test_event_code", "partner_agent", "access_token", "data"]))] = draw(json_values)
    return json.dumps(body).encode()


def _special_bodies() -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'{"data": NaN}',
            b'{"data": [{"event_time": Infinity, "event_name": "x"}]}',
            b'{"data": [{"event_time": -Infinity}]}',
            b'{"data": [{"value": 1e999}]}',
            b'{"data": "\xff\xfe\xfd"}',
            b'{"data": ["\\ud800"]}',
            b'\xef\xbb\xbf{"data": []}',
            b'{"data": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
            b"[" * 100_000,
            json.dumps({"data": [{}] * 1001}).encode(),
            json.dumps({"data": [{"event_name": "x"}] * 1500}).encode(),
            b'{"data": []}' + b" " * (MAX_BODY + 10),
            b"data=%5B%7B%22event_name%22%3A1%7D%5D&data=%7B",
            b"data=" + quote(json.dumps([make_event("form-ok", tag="hostile")])).encode(),
            b"%ZZ=%GG&&&=",
            gzip.compress(json.dumps({"data": [make_event("gz", tag="hostile")]}).encode()),
            zlib.compress(b'{"data": []}'),
        ]
    )


bodies = st.one_of(
    mutated_batches(), json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=300), _special_bodies()
)


@st.composite
def hostile_requests(draw: Any) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes, str]:
    kind = draw(st.sampled_from(["ours"] * 6 + ["digits", "hostile", "hostile", "text"]))
    pixel = {
        "ours": st.just(PIXEL),
        "digits": st.from_regex(r"[0-9]{1,20}", fullmatch=True),
        "hostile": st.sampled_from(HOSTILE_PIXELS),
        "text": st.text(min_size=1, max_size=30),
    }[kind]
    pixel = draw(pixel)
    raw_path = f"/v1/pixels/{pixel if '%' in pixel else quote(pixel, safe='')}/events".encode(
        "utf-8", "surrogateescape"
    )
    body = draw(bodies)
    signing = draw(st.sampled_from(["valid", "valid", "valid", "valid", "none", "forged", "duplicate", "hub_garbage"]))
    headers: list[tuple[bytes, bytes]] = []
    if signing in ("valid", "duplicate"):
        signed = sign(body, f"msg_{uuid.uuid4().hex}") if _is_text(body) else _sign_bytes(body)
        headers += [(k.encode(), v.encode()) for k, v in signed.items() if k != "content-type"]
        if signing == "duplicate":
            headers.append((b"webhook-signature", signed["webhook-signature"].encode()))
    elif signing == "forged":
        headers += [
            (b"webhook-id", b"msg_x"),
            (b"webhook-timestamp", str(int(time.time())).encode()),
            (b"webhook-signature", b"v1,AAAA"),
        ]
    elif signing == "hub_garbage":
        headers.append((b"x-hub-signature-256", draw(st.binary(max_size=80))))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    length = draw(st.sampled_from(["right", "right", "right", "none", "lie_small", "lie_big", "garbage"]))
    if length == "right":
        headers.append((b"content-length", str(len(body)).encode()))
    elif length == "lie_small":
        headers.append((b"content-length", b"1"))
    elif length == "lie_big":
        headers.append((b"content-length", str(MAX_BODY * 100).encode()))
    elif length == "garbage":
        headers.append((b"content-length", draw(st.sampled_from([b"-1", b"1e3", b"0x10", b"\xff", b" 12 "]))))
    if draw(st.booleans()):
        headers.append((b"x-request-id", draw(st.binary(max_size=80))))
    return "POST", raw_path, headers, body, signing


def _is_text(body: bytes) -> bool:
    try:
        body.decode()
        return True
    except UnicodeDecodeError:
        return False


def _sign_bytes(body: bytes) -> dict[str, str]:
    """Standard Webhooks over arbitrary bytes (the reference signer only takes text)."""
    import base64
    import hashlib
    import hmac

    msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    key = parse_webhook_secret(SECRET)
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def check_answer(response: RawResponse, outcomes: Counter[str]) -> None:
    assert response.status < 500, (response.status, response.body[:300])
    document = response.json()
    if response.status == 200:
        assert document["events_accepted"] + document["events_rejected"] == document["events_received"]
        assert all(r["reason"] and r["field"] for r in document["rejections"])
        outcomes["200"] += 1
        return
    error = document["error"]
    assert error["code"] and error["message"], document
    outcomes[f"{response.status}:{error['code']}"] += 1


def assert_store_layout(outer: Path, root: Path) -> int:
    """Nothing outside `root`; every file inside is an object or claim of the layout."""
    assert [p.name for p in outer.iterdir()] == [root.name], list(outer.iterdir())
    files = 0
    for path in root.rglob("*"):
        if path.is_file():
            files += 1
            key = path.relative_to(root).as_posix()
            assert parse_object_key(key) is not None, key
    return files


@pytest.mark.parametrize("examples", variants(fast=300, full=10_500))
def test_given_generated_hostile_requests_when_served_in_process_then_no_5xx_every_refusal_explained_no_stray_write(
    tmp_path: Path, examples: int, figures
) -> None:
    outer = tmp_path / "outer"
    root = outer / "bucket"
    settings_ = ReceiverSettings(
        staging_url=str(root),
        webhook_keys=(parse_webhook_secret(SECRET),),
        forward_mode="off",
        max_body_bytes=MAX_BODY,
        commit_deadline_s=10,
    )
    runtime = build_runtime(settings_)
    audit.register_store(LocalFolderStore(str(root)))
    app = create_app(runtime=runtime, lifespan_owned=False)
    loop = asyncio.new_event_loop()
    outcomes: Counter[str] = Counter()
    signing_modes: Counter[str] = Counter()
    started = time.monotonic()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_requests())
    def one(request: tuple[str, bytes, list[tuple[bytes, bytes]], bytes, str]) -> None:
        method, raw_path, headers, body, signing = request
        signing_modes[signing] += 1
        response = loop.run_until_complete(call(app, method, raw_path, headers, body))
        check_answer(response, outcomes)
        document = response.json()
        request_id = document["request_id"] if response.status == 200 else document["error"]["request_id"]
        # A caller's X-Request-Id is echoed only when it is a safe token (no header injection).
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", request_id), request_id
        assert response.headers.get("x-request-id", request_id) == request_id

    try:
        one()
    finally:
        loop.close()
        audit.register_text("metrics of an in-process receiver", runtime.metrics.render().decode())
        runtime.close()
    total = sum(outcomes.values())
    files = assert_store_layout(outer, root)
    assert total >= examples
    assert outcomes["200"] > 0 and any(k.startswith("422") for k in outcomes), outcomes
    figures(
        "6_hostile_input_in_process",
        {
            "requests": total,
            "answers_5xx": 0,
            "answers_by_status_and_code": dict(sorted(outcomes.items())),
            "signing_modes": dict(sorted(signing_modes.items())),
            "files_written_all_in_layout": files,
            "writes_outside_store_prefix": 0,
            "seconds": round(time.monotonic() - started, 1),
        },
    )


RAW_REQUESTS = [
    b"GARBAGE\r\n\r\n",
    b'POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{"a"',
    b"POST /v1/pixels/../../etc/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/pixels/%2e%2e%2f%2e%2e/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rInjected: 1\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nX-Request-Id: ok\r\n folded: yes\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n",
    b"POST /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /v1/pixels/\xff\xfe/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /v1/pixels/1234567890/events HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
]


def _raw_exchange(port: int, payload: bytes) -> int:
    """Send raw bytes; the status of the answer (0 when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        try:
            while chunk := connection.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except OSError:
            pass
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("generated", variants(fast=40, full=600))
def test_given_hostile_requests_on_raw_sockets_when_served_by_uvicorn_then_no_5xx_and_still_serving(
    tmp_path: Path, generated: int, figures
) -> None:
    outer = tmp_path / "outer"
    receiver = ReceiverProcess(
        receiver_env(str(outer / "bucket"), META_CAPI_MAX_BODY_BYTES=str(MAX_BODY)), tmp_path / "receiver.log"
    ).start()
    audit.register_store(LocalFolderStore(str(outer / "bucket")))
    port = int(receiver.url.rsplit(":", 1)[1])
    statuses: Counter[int] = Counter()

    def exchange(payload: bytes) -> None:
        status = _raw_exchange(port, payload)
        statuses[status] += 1
        assert status < 500, (status, payload[:200])
        assert receiver.alive()

    @settings(max_examples=generated, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(hostile_requests())
    def one(request: tuple[str, bytes, list[tuple[bytes, bytes]], bytes, str]) -> None:
        _, raw_path, headers, body, _ = request
        head = b"POST " + raw_path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        head += b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        exchange(head + b"\r\n" + body)

    try:
        for payload in RAW_REQUESTS:
            exchange(payload)
        one()
        assert _raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == 200
    finally:
        receiver.stop()
    files = assert_store_layout(outer, outer / "bucket")
    figures(
        "6_hostile_input_uvicorn_raw_sockets",
        {
            "requests": sum(statuses.values()),
            "answers_by_status": {str(k): v for k, v in sorted(statuses.items())},
            "answers_5xx": 0,
            "closed_without_answer": statuses[0],
            "files_written_all_in_layout": files,
            "receiver_restarts_needed": 0,
        },
    )
