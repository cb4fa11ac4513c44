"""The Lambda handler with real-shaped API Gateway REST (v1) and HTTP API (v2) events."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from integration_tests.receiver.conftest import PIXEL, SECRET, event, staged_records, sw_headers
from source_meta_capi.receiver import lambda_handler
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store


def v1_event(body: str, headers: dict[str, str], *, b64: bool = False, pixel_id: str = PIXEL) -> dict[str, Any]:
    path = f"/v1/pixels/{pixel_id}/events"
    return {
        "resource": "/v1/pixels/{pixel_id}/events",
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"pixel_id": pixel_id},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/v1/pixels/{pixel_id}/events",
            "httpMethod": "POST",
            "extendedRequestId": "Xyz=",
            "requestTime": "26/Nov/2026:08:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "api",
            "requestTimeEpoch": 1795680000000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "sender/1.0"},
            "domainName": "api.example.com",
            "apiId": "1234567890",
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


def v2_event(
    body: str,
    headers: dict[str, str],
    *,
    b64: bool = False,
    method: str = "POST",
    path: str = f"/v1/pixels/{PIXEL}/events",
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "sender/1.0",
            },
            "requestId": "id",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "26/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795680000000,
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


@pytest.fixture
def lambda_env(tmp_path, monkeypatch):
    bucket = tmp_path / "bucket"
    for name, value in {
        "AWS_LAMBDA_FUNCTION_NAME": "meta-capi-receiver",
        "META_CAPI_STAGING_URL": str(bucket),
        "META_CAPI_WEBHOOK_SECRETS": SECRET,
        "META_CAPI_FORWARD_MODE": "auto",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(lambda_handler, "_handler", None)
    yield open_store(str(bucket))
    runtime = getattr(getattr(lambda_handler._handler, "app", None), "state", None)
    runtime = getattr(runtime, "runtime", None)
    if runtime is not None:
        runtime.close()
    monkeypatch.setattr(lambda_handler, "_handler", None)


@pytest.mark.parametrize("shape", [v1_event, v2_event])
@pytest.mark.parametrize("b64", [False, True])
def test_given_api_gateway_event_when_invoked_then_staged_and_answered(lambda_env, shape, b64: bool) -> None:
    raw = json.dumps({"data": [event(f"lambda-{shape.__name__}-{b64}")]})
    result = lambda_handler.handler(shape(raw, sw_headers(raw), b64=b64), None)
    assert result["statusCode"] == 200, result["body"]
    answer = json.loads(result["body"])
    # Forward mode auto is inline on Lambda; no token is configured, so nothing is sent.
    assert answer["forwarding"] == {"mode": "inline", "status": "not_configured"}
    assert [r["event_id"] for r in staged_records(lambda_env, ObjectKind.EVENTS)] == [f"lambda-{shape.__name__}-{b64}"]


def test_given_bad_signature_or_probe_when_invoked_then_same_answers_as_http(lambda_env) -> None:
    raw = json.dumps({"data": [event()]})
    refused = lambda_handler.handler(v2_event(raw, {**sw_headers(raw), "webhook-signature": "v1,AAAA"}), None)
    assert refused["statusCode"] == 401 and json.loads(refused["body"])["error"]["reason"] == "no_matching_signature"
    health = lambda_handler.handler(v2_event("", {}, method="GET", path="/healthz"), None)
    assert health["statusCode"] == 200
    replay_headers = sw_headers(raw, "msg_lambda")
    first = lambda_handler.handler(v1_event(raw, replay_headers), None)
    second = lambda_handler.handler(v1_event(raw, replay_headers), None)
    assert first["statusCode"] == second["statusCode"] == 200
    # A retry (API Gateway gave up at 29 s, the sender retries) is staged again: same identities.
    assert json.loads(second["body"])["event_ids"] == json.loads(first["body"])["event_ids"]
    assert "idempotent-replayed" not in second["headers"]


def test_given_fresh_interpreter_when_importing_app_and_handler_then_airbyte_cdk_not_loaded() -> None:
    code = (
        "import sys\n"
        "import source_meta_capi.receiver.app, source_meta_capi.receiver.lambda_handler, source_meta_capi.receiver.cli\n"
        "import source_meta_capi.receiver.jobs\n"
        "print(sorted(m for m in sys.modules if m.startswith('airbyte')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
