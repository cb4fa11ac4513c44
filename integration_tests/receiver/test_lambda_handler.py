"""The Lambda handler with real-shaped API Gateway REST (v1) and HTTP API (v2) events."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from integration_tests.receiver.conftest import PIXEL, SECRET, event, staged_records, sw_headers
from integration_tests.support.api_gateway_events import v1_event, v2_event
from source_meta_capi.receiver import lambda_handler
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store


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
    result = lambda_handler.handler(shape(raw, sw_headers(raw), b64=b64, pixel_id=PIXEL), None)
    assert result["statusCode"] == 200, result["body"]
    answer = json.loads(result["body"])
    # Forward mode auto is inline on Lambda; no token is configured, so nothing is sent.
    assert answer["forwarding"] == {"mode": "inline", "status": "not_configured"}
    assert [r["event_id"] for r in staged_records(lambda_env, ObjectKind.EVENTS)] == [f"lambda-{shape.__name__}-{b64}"]


def test_given_bad_signature_or_probe_when_invoked_then_same_answers_as_http(lambda_env) -> None:
    raw = json.dumps({"data": [event()]})
    refused = lambda_handler.handler(
        v2_event(raw, {**sw_headers(raw), "webhook-signature": "v1,AAAA"}, pixel_id=PIXEL), None
    )
    assert refused["statusCode"] == 401 and json.loads(refused["body"])["error"]["reason"] == "no_matching_signature"
    health = lambda_handler.handler(v2_event("", {}, method="GET", path="/healthz"), None)
    assert health["statusCode"] == 200
    replay_headers = sw_headers(raw, "msg_lambda")
    first = lambda_handler.handler(v1_event(raw, replay_headers, pixel_id=PIXEL), None)
    second = lambda_handler.handler(v1_event(raw, replay_headers, pixel_id=PIXEL), None)
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
