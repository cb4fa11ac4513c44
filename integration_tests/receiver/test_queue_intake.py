"""Queue intake (issue 16 item 2): the API Lambda sends each request to SQS, the batch Lambda
stages a batch per object and forwards it, on moto's S3 + SQS server and the Graph stand-in.

The event source mapping is played by `drain`: ReceiveMessage by tens (what the mapping's
pollers do), one invocation of the real batch handler with real-shaped SQS records, then
DeleteMessageBatch by tens for what the handler did not report as failed. Every AWS call made in
this process is counted (`Calls`), which is what the cost model needs per request.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import boto3
import pytest
from botocore.client import BaseClient

from integration_tests.receiver.conftest import PIXEL, SECRET, TOKEN, event, sw_headers
from integration_tests.support.api_gateway_events import v2_event
from integration_tests.support.graph_stand_in import GraphStandIn
from integration_tests.support.push_harness import identities, sync
from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.receiver import batch_handler, lambda_handler
from source_meta_capi.receiver.batch_handler import BatchDrain
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import ObjectStore, S3Options, StoreUnavailableError

OTHER_PIXEL = "2234567890"
AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
MAX_RECEIVE_COUNT = 2
BILLED = ("SendMessage", "ReceiveMessage", "DeleteMessageBatch", "PutObject")


class Calls:
    """Counts every AWS API call made in this process, by operation (botocore's one funnel)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        original = BaseClient._make_api_call

        def counted(client: Any, operation: str, params: Any) -> Any:
            self.counts[operation] += 1
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", counted)

    def billed(self) -> dict[str, int]:
        return {name: self.counts[name] for name in BILLED}


@dataclass
class Queues:
    sqs: Any
    url: str
    arn: str
    dlq_url: str


@pytest.fixture
def queues(moto_endpoint: str) -> Queues:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, **AWS)
    name = f"capi-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60", "RedrivePolicy": redrive})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queues(sqs, url, arn, dlq_url)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(access_token=TOKEN, pixels=[PIXEL, OTHER_PIXEL]) as stand_in:
        yield stand_in


@pytest.fixture
def queue_env(monkeypatch: pytest.MonkeyPatch, s3_bucket: str, moto_endpoint: str, queues: Queues, graph: GraphStandIn):
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "meta-capi-receiver",
        "META_CAPI_STAGING_URL": s3_bucket,
        "META_CAPI_S3_ENDPOINT_URL": moto_endpoint,
        "META_CAPI_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "META_CAPI_WEBHOOK_SECRETS": SECRET,
        "META_CAPI_INTAKE_MODE": "queue",
        "META_CAPI_QUEUE_URL": queues.url,
        "META_CAPI_SQS_ENDPOINT_URL": moto_endpoint,
        "META_CAPI_GRAPH_BASE_URL": graph.base_url,
        "META_CAPI_ACCESS_TOKENS": f"{PIXEL}={TOKEN},{OTHER_PIXEL}={TOKEN}",
        "META_CAPI_COMMIT_DEADLINE_S": "10",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(lambda_handler, "_handler", None)
    monkeypatch.setattr(batch_handler, "_runtime", None)
    yield env
    api = getattr(getattr(getattr(lambda_handler._handler, "app", None), "state", None), "runtime", None)
    for runtime in (api, batch_handler._runtime):
        if runtime is not None:
            runtime.close()


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def post(body: dict[str, Any], pixel_id: str = PIXEL) -> dict[str, Any]:
    raw = json.dumps(body)
    path = f"/v1/pixels/{pixel_id}/events"
    result: dict[str, Any] = lambda_handler.handler(v2_event(raw, sw_headers(raw), path=path), None)
    return result


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message as the SQS event source mapping hands it to Lambda."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def drain(queues: Queues, handle: Any, batch_size: int = 10_000) -> tuple[int, list[str]]:
    """One poll of the event source mapping: receive, invoke, delete the successes.
    (messages handed to the handler, the message ids it reported failed)"""
    received: list[dict[str, Any]] = []
    while len(received) < batch_size:
        page = queues.sqs.receive_message(
            QueueUrl=queues.url,
            MaxNumberOfMessages=min(10, batch_size - len(received)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not page:
            break
        received.extend(page)
    if not received:
        return 0, []
    answer = handle({"Records": [sqs_record(m, queues.arn) for m in received]}, _Context())
    failed = [item["itemIdentifier"] for item in answer["batchItemFailures"]]
    done = [m for m in received if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])]
        queues.sqs.delete_message_batch(QueueUrl=queues.url, Entries=entries)
    # What the mapping does not touch comes back after the visibility timeout; here at once.
    for message in received:
        if message["MessageId"] in failed:
            queues.sqs.change_message_visibility(
                QueueUrl=queues.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return len(received), failed


def queue_depth(queues: Queues, url: Optional[str] = None) -> int:
    attributes = queues.sqs.get_queue_attributes(
        QueueUrl=url or queues.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def bucket_keys(s3_bucket: str, moto_endpoint: str) -> list[str]:
    bucket, _, prefix = s3_bucket.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=moto_endpoint, **AWS)
    return [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
        for item in page.get("Contents", [])
    ]


def sync_identities(s3_bucket: str, moto_endpoint: str, pixels: tuple[str, ...] = (PIXEL,)) -> Counter[Any]:
    config = {
        "pixels": [{"pixel_id": pixel} for pixel in pixels],
        "staging": {**s3_staging_config(s3_bucket, moto_endpoint), "settle_seconds": 0},
    }
    return identities(sync(config, streams=["delivered_events"]))


def s3_store(s3_bucket: str, moto_endpoint: str) -> ObjectStore:
    return open_store(
        s3_bucket,
        S3Options(
            region="us-east-1", endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
        ),
    )


REQUESTS = 1000
MAX_PUTS_PER_EVENT = 0.05


def test_given_1000_single_event_requests_in_queue_mode_when_drained_in_one_batch_then_one_object_and_every_identity_once(
    queue_env, queues: Queues, s3_bucket: str, moto_endpoint: str, graph: GraphStandIn, monkeypatch
) -> None:
    calls = Calls(monkeypatch)
    for index in range(REQUESTS):
        result = post({"data": [event(f"q-{index}")]})
        assert result["statusCode"] == 200, result["body"]
        answer = json.loads(result["body"])
        assert answer["forwarding"] == {"mode": "queue", "status": "queued"}
        # Answered only after its one durable write: the SendMessage of this request.
        assert calls.counts["SendMessage"] == index + 1
        assert calls.counts["PutObject"] == 0
    assert queue_depth(queues) == REQUESTS
    assert bucket_keys(s3_bucket, moto_endpoint) == []

    handed, failed = drain(queues, batch_handler.handler)
    assert (handed, failed) == (REQUESTS, [])
    assert queue_depth(queues) == 0

    keys = bucket_keys(s3_bucket, moto_endpoint)
    events_objects = [key for key in keys if "/events/" in key]
    assert len(events_objects) == 1, keys
    billed = calls.billed()
    # Forwarding: 1,000 events in one request to Meta, and its statuses in one object.
    assert len(graph.requests_to("events")) == 1
    assert sorted(graph.received_event_ids(PIXEL)) == sorted(f"q-{i}" for i in range(REQUESTS))
    assert billed["PutObject"] / REQUESTS <= MAX_PUTS_PER_EVENT, billed
    print(
        f"\n[queue intake, {REQUESTS} single-event requests, one batch] billed calls: {billed}; per request: "
        + ", ".join(f"{name} {count / REQUESTS:.3f}" for name, count in billed.items())
    )
    assert billed == {
        "SendMessage": REQUESTS,
        "ReceiveMessage": REQUESTS // 10 + 1,
        "DeleteMessageBatch": REQUESTS // 10,
        "PutObject": 2,
    }

    found = sync_identities(s3_bucket, moto_endpoint)
    assert {(pixel, event_id) for (pixel, event_id, _) in found} == {(PIXEL, f"q-{i}") for i in range(REQUESTS)}
    assert len(found) == REQUESTS and set(found.values()) == {1}


class _FailingPixelStore:
    """A store whose writes for one pixel fail while `failing` is set."""

    def __init__(self, inner: ObjectStore, pixel_id: str) -> None:
        self.inner = inner
        self.pixel_id = pixel_id
        self.failing = True

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.failing and f"pixel_id={self.pixel_id}/" in key:
            raise StoreUnavailableError(f"injected failure for {key}")
        return self.inner.put_if_absent(key, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_given_store_failure_for_one_pixel_mid_batch_when_drained_then_its_messages_fail_and_redelivery_loses_nothing(
    queue_env, queues: Queues, s3_bucket: str, moto_endpoint: str
) -> None:
    for index in range(30):
        pixel = PIXEL if index % 2 else OTHER_PIXEL
        result = post({"data": [event(f"f-{index}"), {"event_name": "Lead"}]}, pixel_id=pixel)
        assert result["statusCode"] == 200, result["body"]
    settings = load_settings({**queue_env, "META_CAPI_COMMIT_DEADLINE_S": "1", "META_CAPI_FORWARD_MODE": "off"})
    store = _FailingPixelStore(s3_store(s3_bucket, moto_endpoint), OTHER_PIXEL)
    runtime = build_runtime(settings, store=store)  # type: ignore[arg-type]
    drain_batch = BatchDrain(runtime)
    try:
        handed, failed = drain(queues, lambda e, c: drain_batch.handle(e, 60.0))
        assert handed == 30 and len(failed) == 15
        keys = bucket_keys(s3_bucket, moto_endpoint)
        assert not [key for key in keys if OTHER_PIXEL in key]
        assert len([key for key in keys if f"events/pixel_id={PIXEL}/" in key]) == 1
        # Each request's rejected event went to its pixel's dead-letters object, written first.
        assert len([key for key in keys if f"dead_letters/pixel_id={PIXEL}/" in key]) == 1

        store.failing = False
        handed, failed = drain(queues, lambda e, c: drain_batch.handle(e, 60.0))
        assert (handed, failed) == (15, [])
    finally:
        runtime.close()
    assert queue_depth(queues) == 0 and queue_depth(queues, queues.dlq_url) == 0
    found = sync_identities(s3_bucket, moto_endpoint, (PIXEL, OTHER_PIXEL))
    expected = {f"f-{i}" for i in range(30)}
    assert {event_id for (_, event_id, _) in found} == expected
    assert len(found) == 30 and set(found.values()) == {1}


def test_given_unreadable_message_when_drained_then_reported_failed_until_it_reaches_the_dlq(
    queue_env, queues: Queues
) -> None:
    queues.sqs.send_message(QueueUrl=queues.url, MessageBody="not a request")
    for _ in range(MAX_RECEIVE_COUNT):
        handed, failed = drain(queues, batch_handler.handler)
        assert handed == 1 and len(failed) == 1
    assert drain(queues, batch_handler.handler) == (0, [])
    assert queue_depth(queues, queues.dlq_url) == 1


def test_given_queue_unavailable_when_posting_then_503_with_retry_after_and_nothing_staged(
    queue_env, monkeypatch, s3_bucket: str, moto_endpoint: str
) -> None:
    monkeypatch.setenv("META_CAPI_QUEUE_URL", queue_env["META_CAPI_QUEUE_URL"] + "-missing")
    result = post({"data": [event("lost")]})
    assert result["statusCode"] == 503, result["body"]
    assert result["headers"]["retry-after"] == "5"
    assert json.loads(result["body"])["error"]["code"] == "staging_unavailable"
    assert bucket_keys(s3_bucket, moto_endpoint) == []


def test_given_request_larger_than_a_message_when_posting_then_staged_directly_with_one_write(
    queue_env, monkeypatch, queues: Queues, s3_bucket: str, moto_endpoint: str, graph: GraphStandIn
) -> None:
    monkeypatch.setenv("META_CAPI_QUEUE_MAX_MESSAGE_BYTES", "1024")
    calls = Calls(monkeypatch)
    result = post({"data": [event(f"big-{i}", custom_data={"note": uuid.uuid4().hex}) for i in range(40)]})
    assert result["statusCode"] == 200, result["body"]
    # Direct mode's path: one events object, then inline forwarding (and its statuses object).
    assert json.loads(result["body"])["forwarding"]["mode"] == "inline"
    assert calls.counts["SendMessage"] == 0 and queue_depth(queues) == 0
    assert len([key for key in bucket_keys(s3_bucket, moto_endpoint) if "/events/" in key]) == 1
