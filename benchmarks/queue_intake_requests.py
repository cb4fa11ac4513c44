"""Billable AWS requests per request of the queue intake mode, counted, not timed (not part of `make bench`).

    python -m benchmarks.queue_intake_requests [--requests 2000] [--batch-size 1000] [--pixels 1] [--events 1]

Requests go through the real API Lambda handler (HTTP API v2 events) in queue mode against moto's
server (S3 + SQS, 127.0.0.1); then the SQS event source mapping is played the way Lambda's
pollers do it (ReceiveMessage by tens up to the batch size, one invocation of the real batch
handler, DeleteMessageBatch by tens). Every AWS call made in the process is counted by
operation, and each SendMessage's 64 KiB billing chunks (body + attributes) are counted too.
`measure_queue_intake` is the measurement; benchmarks/request_costs.py prices it for the cost
model in docs/deploy.md ("Lambda + SQS batching" rows). Forwarding is off here unless
`--forward` (then the batch handler forwards to a local Graph API stand-in and writes one
statuses object per forwarded batch of up to 1,000 events).

What it cannot count: the pollers' empty ReceiveMessage calls while the queue is idle (Lambda
long-polls; AWS bills them as requests; request_costs.py adds them as a fixed monthly charge).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient

from integration_tests.support.api_gateway_events import v2_event

AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
BILLED = ("SendMessage", "ReceiveMessage", "DeleteMessageBatch", "PutObject")
SQS_CHUNK_BYTES = 64 * 1024  # SQS bills each 64 KiB of a request's payload as one request
TOKEN = "queue-bench-token"


@dataclass
class QueueIntakeCounts:
    """What the queue intake path did for `requests` requests of `events` events each."""

    requests: int
    events: int
    batch_size: int
    pixels: int
    forward: bool
    calls: Counter[str] = field(default_factory=Counter)  # AWS operation -> count
    send_chunks: int = 0  # 64 KiB billing chunks over all SendMessage calls
    message_bytes: int = 0  # SendMessage payload bytes (body + attributes), summed
    invocations: int = 0  # batch Lambda invocations
    api_s: float = 0.0  # wall time in the API handler, summed (moto on loopback)
    batch_s: float = 0.0  # wall time in the batch handler, summed
    log_bytes: int = 0  # the handlers' own log lines (INFO), summed

    def per_request(self, operation: str) -> float:
        return self.calls[operation] / self.requests

    @property
    def sqs_requests_per_request(self) -> float:
        """Billed SQS requests per request: SendMessage chunks + ReceiveMessage + DeleteMessageBatch."""
        return (self.send_chunks + self.calls["ReceiveMessage"] + self.calls["DeleteMessageBatch"]) / self.requests

    @property
    def messages_per_invocation(self) -> float:
        return self.requests / self.invocations if self.invocations else 0.0


def _payload_bytes(params: Any) -> int:
    attributes = params.get("MessageAttributes", {})
    size = len(params.get("MessageBody", "").encode())
    for name, value in attributes.items():
        size += (
            len(name.encode()) + len(value.get("DataType", "").encode()) + len(value.get("StringValue", "").encode())
        )
    return size


def _request_body(index: int, events: int) -> str:
    now = int(time.time()) - 30
    return json.dumps(
        {
            "data": [
                {
                    "event_name": "Lead",
                    "event_time": now,
                    "event_id": f"bench-{index}-{n}",
                    "action_source": "email",
                    "user_data": {"em": f"user{index}-{n}@example.com", "country": "US"},
                }
                for n in range(events)
            ]
        }
    )


def _drain(sqs: Any, queue_url: str, batch_size: int, found: QueueIntakeCounts) -> None:
    """Play the event source mapping until the queue is empty: receive by tens up to `batch_size`,
    one batch handler invocation, DeleteMessageBatch by tens."""
    from source_meta_capi.receiver import batch_handler

    while True:
        received: list[dict[str, Any]] = []
        while len(received) < batch_size:
            page = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(received)),
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not page:
                break
            received.extend(page)
        if not received:
            break
        records = [{"messageId": m["MessageId"], "body": m["Body"], "attributes": {}} for m in received]
        started = time.monotonic()
        result = batch_handler.handler({"Records": records}, None)
        found.batch_s += time.monotonic() - started
        found.invocations += 1
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        assert not failed, failed
        for start in range(0, len(received), 10):
            chunk = received[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def measure_queue_intake(
    endpoint: str, requests: int, batch_size: int, *, events: int = 1, pixels: int = 1, forward: bool = False
) -> QueueIntakeCounts:
    """Send `requests` requests through the API handler in queue mode, then drain the queue with the
    batch handler in invocations of up to `batch_size` messages; count every AWS call.

    `endpoint` serves S3 and SQS (moto). The process environment and both handlers' cached
    runtimes are restored afterwards, so this can run more than once in a process."""
    from source_meta_capi.receiver import batch_handler, json_logging, lambda_handler

    found = QueueIntakeCounts(requests, events, batch_size, pixels, forward)
    s3 = boto3.client("s3", endpoint_url=endpoint, **AWS)
    sqs = boto3.client("sqs", endpoint_url=endpoint, **AWS)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    pixel_ids = [str(1_000_000_000 + n) for n in range(pixels)]
    saved_env, saved_stderr = dict(os.environ), sys.stderr
    original = BaseClient._make_api_call
    logs = io.StringIO()

    def counted(client: Any, operation: str, params: Any) -> Any:
        found.calls[operation] += 1
        if operation == "SendMessage":
            size = _payload_bytes(params)
            found.message_bytes += size
            found.send_chunks += max(1, math.ceil(size / SQS_CHUNK_BYTES))
        return original(client, operation, params)

    with ExitStack() as stack:
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "META_CAPI_STAGING_URL": f"s3://{bucket}/capi",
            "META_CAPI_S3_ENDPOINT_URL": endpoint,
            "META_CAPI_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "META_CAPI_ALLOW_UNSIGNED": "true",
            "META_CAPI_INTAKE_MODE": "queue",
            "META_CAPI_QUEUE_URL": queue_url,
            "META_CAPI_SQS_ENDPOINT_URL": endpoint,
            "META_CAPI_FORWARD_MODE": "off",
            "META_CAPI_LOG_LEVEL": "INFO",
            "META_CAPI_COMMIT_DEADLINE_S": "30",
        }
        if forward:
            from integration_tests.support.graph_stand_in import GraphStandIn

            graph = stack.enter_context(GraphStandIn(access_token=TOKEN, pixels=pixel_ids))
            del env["META_CAPI_FORWARD_MODE"]
            env["META_CAPI_GRAPH_BASE_URL"] = graph.base_url
            env["META_CAPI_ACCESS_TOKENS"] = ",".join(f"{pixel}={TOKEN}" for pixel in pixel_ids)
        os.environ.update(env)
        lambda_handler._handler = None
        batch_handler._runtime = None
        sys.stderr = logs  # the cold starts bind the JSON log handler to sys.stderr
        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        try:
            # Rounds of `batch_size` requests, each drained before the next (as the mapping drains
            # while traffic arrives; moto's ReceiveMessage slows down with a deep queue).
            for first in range(0, requests, batch_size):
                for index in range(first, min(requests, first + batch_size)):
                    body = _request_body(index, events)
                    started = time.monotonic()
                    answer = lambda_handler.handler(
                        v2_event(body, {"content-type": "application/json"}, pixel_id=pixel_ids[index % pixels]), None
                    )
                    found.api_s += time.monotonic() - started
                    assert answer["statusCode"] == 200, answer["body"]
                _drain(sqs, queue_url, batch_size, found)
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]
            sys.stderr = saved_stderr
            for runtime in (
                getattr(getattr(getattr(lambda_handler._handler, "app", None), "state", None), "runtime", None),
                batch_handler._runtime,
            ):
                if runtime is not None:
                    runtime.close()
            lambda_handler._handler = None
            batch_handler._runtime = None
            os.environ.clear()
            os.environ.update(saved_env)
            for name in (json_logging.LOGGER_NAME, "uvicorn", "uvicorn.error"):
                logging.getLogger(name).handlers.clear()
    found.log_bytes = len(logs.getvalue().encode())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--pixels", type=int, default=1)
    parser.add_argument("--events", type=int, default=1, help="events per request")
    parser.add_argument("--forward", action="store_true", help="forward to a local Graph API stand-in")
    args = parser.parse_args()
    from benchmarks.request_costs import PRICE, moto

    with moto() as endpoint:
        found = measure_queue_intake(
            endpoint, args.requests, args.batch_size, events=args.events, pixels=args.pixels, forward=args.forward
        )
    billed = {name: found.calls[name] for name in BILLED}
    scale = 1_000_000 / args.requests
    print(
        f"{args.requests} requests of {args.events} event(s), {args.pixels} pixel(s), batch size {args.batch_size}: "
        f"{found.invocations} batch invocations; API handler {found.api_s / args.requests * 1000:.2f} ms per request "
        f"here; {found.message_bytes / args.requests:,.0f} bytes per message ({found.send_chunks} chunks)"
    )
    print("operation            count   per request   per 1M requests")
    for name, count in billed.items():
        print(f"{name:<18} {count:>7}   {count / args.requests:>11.4f}   {count * scale:>15,.0f}")
    sqs_per_m = found.sqs_requests_per_request * 1e6
    print(
        f"per 1M requests: {sqs_per_m:,.0f} SQS requests (${sqs_per_m * PRICE['sqs_per_m'] / 1e6:.2f}), "
        f"{billed['PutObject'] * scale:,.0f} S3 PUTs (${billed['PutObject'] * scale * PRICE['s3_put_per_k'] / 1000:.3f})"
    )


if __name__ == "__main__":
    main()
