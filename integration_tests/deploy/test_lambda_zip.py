"""The Lambda artifact as AWS runs it: `make lambda-zip`'s package, unpacked, imported by a fresh
interpreter that sees nothing else (no venv, no site-packages), invoked through the handler path
the template names with real-shaped API Gateway REST (v1) and HTTP API (v2) events, end to end:
signed request → 2xx → object staged, on a local folder and on S3 + Secrets Manager (moto).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from integration_tests.support.deploy_modules import load_deploy_module
from source_meta_capi.receiver.signatures import sign_standard_webhook

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("lambda_runner.py")
PIXEL = "1234567890123456"
SECRET = "whsec_" + base64.b64encode(b"deploy-test-webhook-secret-32by!").decode()
# SHA-256 of the normalized values (fact sheet §3.5): proves phonenumbers and pycountry still work
# with their unused data pruned from the package.
EMAIL_HASH = "2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"  # "  Joe@Example.COM "
PHONE_HASH = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"  # "(650)555-1212", US
COUNTRY_HASH = "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"  # "United States"


@dataclass(frozen=True)
class BuiltPackage:
    zip_path: Path
    unpacked: Path
    summary: dict[str, Any]
    handler: str
    # The queue intake's batch Lambda (QueueBatchFunction), same package.
    batch_handler: str


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory: pytest.TempPathFactory) -> BuiltPackage:
    """Built once per session; wheels are cached under build/ so later runs need no download."""
    build = load_deploy_module("build_lambda_zip")
    template = load_deploy_module("cfn_yaml").load_template(ROOT / "deploy" / "template.yaml")
    function = template["Resources"]["ReceiverFunction"]
    batch_function = template["Resources"]["QueueBatchFunction"]
    out = tmp_path_factory.mktemp("lambda")
    zip_path = out / "receiver-lambda.zip"
    summary = build.build("x86_64", zip_path, ROOT / "build")
    unpacked = out / "task"  # what Lambda calls /var/task
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    return BuiltPackage(
        zip_path, unpacked, summary, function["Properties"]["Handler"], batch_function["Properties"]["Handler"]
    )


def capi_event(event_id: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 30,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {
            "em": "  Joe@Example.COM ",
            "ph": "(650)555-1212",
            "country": "United States",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "client_ip_address": "203.0.113.9",
        },
        "custom_data": {"currency": "USD", "value": 42.5},
    }


def signed(body: str, secret: str = SECRET) -> dict[str, str]:
    webhook_id = f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": "deploy-test/1.0",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, webhook_id, timestamp, body.encode()),
    }


def rest_v1_event(
    method: str, path: str, body: str = "", headers: dict[str, str] | None = None, *, b64: bool = False
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event, as the template's stage sends it."""
    headers = headers or {}
    segments = path.strip("/").split("/")
    resource = "/v1/pixels/{pixel_id}/events" if segments[:2] == ["v1", "pixels"] else path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"pixel_id": segments[2]} if resource != path else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "k3xq2a",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "cMw1fFq3IAMEb2A=",
            "requestTime": "26/Nov/2026:08:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "a1b2c3d4e5",
            "requestTimeEpoch": 1795680000000,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "deploy-test/1.0"},
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "apiId": "a1b2c3d4e5",
        },
        "body": (base64.b64encode(body.encode()).decode() if b64 else body) or None,
        "isBase64Encoded": b64,
    }


def http_v2_event(
    method: str, path: str, body: str = "", headers: dict[str, str] | None = None, *, b64: bool = False
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event (payload format 2.0), for users who front it that way."""
    headers = {name.lower(): value for name, value in (headers or {}).items()}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "f6g7h8i9j0",
            "domainName": "f6g7h8i9j0.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "f6g7h8i9j0",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "deploy-test/1.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795680000000,
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


def post(shape: Any, event_id: str, *, b64: bool = False, secret: str = SECRET) -> dict[str, Any]:
    body = json.dumps({"data": [capi_event(event_id)]})
    event: dict[str, Any] = shape("POST", f"/v1/pixels/{PIXEL}/events", body, signed(body, secret), b64=b64)
    return event


@dataclass(frozen=True)
class Invocation:
    report: dict[str, Any]
    logs: list[dict[str, Any]]

    @property
    def answers(self) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = self.report["answers"]
        return answers


def invoke(
    package: BuiltPackage,
    events: list[dict[str, Any]],
    env: dict[str, str],
    tmp_path: Path,
    handler: str | None = None,
) -> Invocation:
    """Run the events through the handler in a fresh interpreter that sees only the package."""
    harness = tmp_path / "harness"
    harness.mkdir(exist_ok=True)
    runner = shutil.copy(RUNNER, harness / RUNNER.name)
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "TZ": "UTC",
        # What the Lambda runtime sets (and the receiver reads: `auto` forwarding is inline there).
        "AWS_LAMBDA_FUNCTION_NAME": "meta-capi-receiver",
        "AWS_REGION": "us-east-1",
        "PYTHONPATH": str(package.unpacked),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    # -S: no site module, so no site-packages of any environment; -s: no user site either.
    result = subprocess.run(
        [sys.executable, "-S", "-s", str(runner), handler or package.handler],
        input=json.dumps({"events": events}),
        capture_output=True,
        text=True,
        env=child_env,
        cwd=harness,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    logs = []
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            logs.append(json.loads(line))
    return Invocation(json.loads(result.stdout), logs)


def assert_loaded_from_package(report: dict[str, Any], package: BuiltPackage, names: list[str]) -> None:
    for name in names:
        location = report["module_files"][name]
        assert location is not None and location.startswith(str(package.unpacked)), (name, location)


def staged_local(folder: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(folder.rglob("*.jsonl.gz")):
        if path.relative_to(folder).parts[0] == "events":
            records.extend(json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line.strip())
    return records


def hashes_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from hashes_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from hashes_in(item)


def test_given_package_when_listing_it_then_receiver_only_within_budget(lambda_package: BuiltPackage) -> None:
    build = load_deploy_module("build_lambda_zip")
    top = {path.name for path in lambda_package.unpacked.iterdir()}
    assert {
        "source_meta_capi",
        "starlette",
        "mangum",
        "boto3",
        "botocore",
        "orjson",
        "pydantic",
        "pydantic_core",
    } <= top
    assert not top & {"airbyte_cdk", "uvicorn", "pendulum", "moto", "pytest"}
    package = {path.name for path in (lambda_package.unpacked / "source_meta_capi").iterdir()}
    assert package == {"__init__.py", "__pycache__", "receiver", "capi", "staging"}
    summary = lambda_package.summary
    assert int(summary["zip_bytes"]) <= build.ZIP_BUDGET_BYTES
    assert int(summary["unpacked_bytes"]) <= build.UNPACKED_BUDGET_BYTES
    with zipfile.ZipFile(lambda_package.zip_path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {build.FIXED_DATE_TIME}


def test_given_same_inputs_when_rebuilt_elsewhere_then_identical_bytes(
    lambda_package: BuiltPackage, tmp_path: Path
) -> None:
    build = load_deploy_module("build_lambda_zip")
    # Reuse the downloaded wheels: the point is the build, not the index.
    shutil.copytree(ROOT / "build" / "lambda-wheels" / "x86_64", tmp_path / "lambda-wheels" / "x86_64")
    again = build.build("x86_64", tmp_path / "again.zip", tmp_path)
    assert again["sha256"] == lambda_package.summary["sha256"]
    assert hashlib.sha256((tmp_path / "again.zip").read_bytes()).hexdigest() == again["sha256"]


def test_given_fresh_interpreter_when_invoked_with_v1_and_v2_events_then_staged_to_local_folder(
    lambda_package: BuiltPackage, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    events = [
        post(rest_v1_event, "zip-v1"),
        post(rest_v1_event, "zip-v1-b64", b64=True),
        post(http_v2_event, "zip-v2"),
        post(http_v2_event, "zip-v2-b64", b64=True),
        post(http_v2_event, "zip-bad-signature", secret="whsec_" + base64.b64encode(b"x" * 32).decode()),
        rest_v1_event("GET", "/healthz"),
        http_v2_event("GET", "/readyz"),
    ]
    run = invoke(
        lambda_package,
        events,
        {"META_CAPI_STAGING_URL": str(staging), "META_CAPI_WEBHOOK_SECRETS": SECRET, "META_CAPI_PIXEL_IDS": PIXEL},
        tmp_path,
    )
    statuses = [answer["statusCode"] for answer in run.answers]
    assert statuses == [200, 200, 200, 200, 401, 200, 200], [a.get("body") for a in run.answers]
    first = json.loads(run.answers[0]["body"])
    assert first["events_accepted"] == 1 and first["forwarding"] == {"mode": "inline", "status": "not_configured"}

    # Nothing outside the package was importable, let alone loaded.
    report = run.report
    assert not report["site_loaded"]
    assert not any("site-packages" in entry for entry in report["sys_path"]), report["sys_path"]
    assert_loaded_from_package(
        report,
        lambda_package,
        ["source_meta_capi", "starlette", "mangum", "orjson", "phonenumbers", "pycountry", "pydantic", "pydantic_core"],
    )
    assert report["forbidden_loaded"] == [] and report["forbidden_importable"] == []
    assert report["source_modules_loaded"] == []

    records = staged_local(staging)
    assert sorted(r["event_id"] for r in records) == ["zip-v1", "zip-v1-b64", "zip-v2", "zip-v2-b64"]
    for record in records:
        assert record["pixel_id"] == PIXEL and record["signature_status"] == "verified:standard_webhooks"
        assert {EMAIL_HASH, PHONE_HASH, COUNTRY_HASH} <= set(hashes_in(record["user_data"]))
        assert "Joe@Example.COM" not in json.dumps(record)

    # The log lines the template's metric filters count are there, shaped as the filters expect.
    messages = [line.get("message") for line in run.logs]
    assert messages.count("batch staged") == 4
    refused = [line for line in run.logs if line.get("message") == "signature refused"]
    assert len(refused) == 1 and refused[0]["pixel_id"] == PIXEL


def test_given_s3_and_secrets_manager_when_invoked_then_reference_resolved_and_object_staged_write_once(
    lambda_package: BuiltPackage, moto_endpoint: str, tmp_path: Path
) -> None:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, **credentials)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_endpoint, **credentials)
    bucket = f"capi-deploy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    # As the stack stores it: the comma-separated list, here mid-rotation (new first, old still valid).
    rotated = "whsec_" + base64.b64encode(b"deploy-test-rotated-secret-32by!").decode()
    arn = secrets.create_secret(Name=f"deploy-test/{uuid.uuid4().hex[:8]}", SecretString=f"{rotated},{SECRET}")["ARN"]
    run = invoke(
        lambda_package,
        [post(rest_v1_event, "zip-s3-old-secret"), post(http_v2_event, "zip-s3-new-secret", secret=rotated)],
        {
            "META_CAPI_STAGING_URL": f"s3://{bucket}/capi",
            "META_CAPI_S3_ENDPOINT_URL": moto_endpoint,
            "META_CAPI_SECRETS_ENDPOINT_URL": moto_endpoint,
            "META_CAPI_WEBHOOK_SECRETS": arn,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
        tmp_path,
    )
    assert [answer["statusCode"] for answer in run.answers] == [200, 200], [a.get("body") for a in run.answers]
    # The package's own boto3 (conditional puts need a recent botocore), not the runtime's copy.
    assert_loaded_from_package(run.report, lambda_package, ["boto3", "botocore"])
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="capi/events/").get("Contents", [])]
    assert keys and all(key.endswith(".jsonl.gz") for key in keys)
    staged = [
        json.loads(line)["event_id"]
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).splitlines()
        if line.strip()
    ]
    assert sorted(staged) == ["zip-s3-new-secret", "zip-s3-old-secret"]
    # Everything the receiver wrote is under its prefix: what the IAM policy allows, nothing else.
    everything = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert all(key.startswith("capi/") for key in everything)


def test_given_queue_intake_when_both_handlers_run_from_the_package_then_requests_are_queued_then_staged_in_one_object(
    lambda_package: BuiltPackage, moto_endpoint: str, tmp_path: Path
) -> None:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, **credentials)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, **credentials)
    bucket = f"capi-queue-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    env = {
        "META_CAPI_STAGING_URL": f"s3://{bucket}/capi",
        "META_CAPI_S3_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    api = invoke(
        lambda_package,
        [post(rest_v1_event, f"zip-queue-{i}") for i in range(5)],
        {
            **env,
            "META_CAPI_WEBHOOK_SECRETS": SECRET,
            "META_CAPI_INTAKE_MODE": "queue",
            "META_CAPI_QUEUE_URL": queue_url,
            "META_CAPI_SQS_ENDPOINT_URL": moto_endpoint,
        },
        tmp_path,
    )
    assert [answer["statusCode"] for answer in api.answers] == [200] * 5, [a.get("body") for a in api.answers]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    messages = []
    while page := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages"
    ):
        messages.extend(page)
    assert len(messages) == 5
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + bucket,
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]
    batch = invoke(lambda_package, [{"Records": records}], env, tmp_path, lambda_package.batch_handler)
    assert batch.answers == [{"batchItemFailures": []}]
    assert_loaded_from_package(batch.report, lambda_package, ["boto3", "botocore", "orjson"])
    assert batch.report["forbidden_loaded"] == [] and batch.report["source_modules_loaded"] == []
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="capi/").get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith(f"capi/events/pixel_id={PIXEL}/")
    staged = [
        json.loads(line)["event_id"]
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()).splitlines()
    ]
    assert sorted(staged) == [f"zip-queue-{i}" for i in range(5)]
