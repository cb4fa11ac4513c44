"""Staging on a real S3-compatible server (moto) on 127.0.0.1, store failures, and secrets from
moto's Secrets Manager."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest

from integration_tests.receiver.conftest import PIXEL, SECRET, event, sw_headers
from source_meta_capi.receiver.settings import SettingsError, load_settings
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import S3Options


def s3_store(bucket_url: str, endpoint: str):
    return open_store(
        bucket_url,
        S3Options(
            region="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
        ),
    )


def test_given_s3_staging_when_posting_concurrently_and_retrying_then_staged_once(
    make_receiver, s3_bucket, moto_endpoint
) -> None:
    receiver = make_receiver(store=s3_store(s3_bucket, moto_endpoint))
    raw = json.dumps({"data": [event("s3-1"), event("s3-2")]})
    first = receiver.post(raw, sw_headers(raw, "msg_s3"))
    again = receiver.post(raw, sw_headers(raw, "msg_s3"))
    assert first.status_code == again.status_code == 200 and again.json()["event_ids"] == ["s3-1", "s3-2"]
    # The retry is staged again: same identities, which the source emits once.
    assert sorted(r["event_id"] for r in receiver.records(ObjectKind.EVENTS)) == ["s3-1", "s3-1", "s3-2", "s3-2"]
    assert receiver.session.get(f"{receiver.url}/readyz").json()["store"].startswith("s3://")


def test_given_unreachable_store_when_posting_then_503_retry_after_and_not_ready(make_receiver, tmp_path) -> None:
    store = s3_store("s3://nowhere/prefix", "http://127.0.0.1:9")  # discard port: connection refused
    receiver = make_receiver(store=store)
    response = receiver.send({"data": [event()]})
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "staging_unavailable" and response.json()["error"]["pixel_id"] == PIXEL
    assert receiver.session.get(f"{receiver.url}/readyz").status_code == 503


@pytest.fixture
def secrets_env(moto_endpoint):
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    other = "whsec_" + base64.b64encode(b"second-secret-for-rotation-32by").decode()
    prefix = f"t{uuid.uuid4().hex[:8]}"  # the moto server lives for the whole session
    plain = client.create_secret(Name=f"{prefix}/webhook", SecretString=f"{SECRET},{other}")
    client.create_secret(
        Name=f"{prefix}/receiver",
        SecretString=json.dumps({"tokens": json.dumps({PIXEL: "tok-from-sm"}), "salt": "pepper"}),
    )
    client.create_secret(Name=f"{prefix}/token-only", SecretString="tok-single")
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "META_CAPI_SECRETS_ENDPOINT_URL": moto_endpoint,
        "arn": plain["ARN"],
        "prefix": prefix,
    }


def test_given_secret_references_when_loading_settings_then_resolved_from_secrets_manager(secrets_env) -> None:
    env = {k: v for k, v in secrets_env.items() if k not in ("arn", "prefix")}
    prefix = secrets_env["prefix"]
    settings = load_settings(
        {
            **env,
            "META_CAPI_WEBHOOK_SECRETS": secrets_env["arn"],
            "META_CAPI_ACCESS_TOKENS": f"secretsmanager:{prefix}/receiver#tokens",
            "META_CAPI_PSEUDONYMIZE_SALT": f"secretsmanager:{prefix}/receiver#salt",
        }
    )
    assert len(settings.webhook_keys) == 2
    assert settings.access_token(PIXEL) == "tok-from-sm" and settings.pseudonymize_salt == "pepper"
    per_token = load_settings({**env, "META_CAPI_ACCESS_TOKENS": f"{PIXEL}=secretsmanager:{prefix}/token-only"})
    assert per_token.access_token(PIXEL) == "tok-single"


def test_given_missing_secret_when_loading_then_error_names_variable_and_secret(secrets_env) -> None:
    env = {k: v for k, v in secrets_env.items() if k not in ("arn", "prefix")}
    prefix = secrets_env["prefix"]
    with pytest.raises(SettingsError) as raised:
        load_settings({**env, "META_CAPI_HUB_SECRETS": f"secretsmanager:{prefix}/absent"})
    assert "META_CAPI_HUB_SECRETS" in str(raised.value) and f"{prefix}/absent" in str(raised.value)
