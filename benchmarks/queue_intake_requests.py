"""Billable AWS requests per request of the queue intake mode, counted, not timed (not part of `make bench`).

    python -m benchmarks.queue_intake_requests [--requests 2000] [--batch-size 1000] [--pixels 1]

Single-event requests go through the real API Lambda handler (HTTP API v2 events) in queue mode
against moto's server (S3 + SQS, 127.0.0.1); then the SQS event source mapping is played the way
Lambda's pollers do it (ReceiveMessage by tens up to the batch size, one invocation of the real
batch handler, DeleteMessageBatch by tens). Every AWS call made in the process is counted by
operation, and scaled to 1M requests for the cost model in docs/deploy.md. Forwarding is off
here (with it on, add one statuses PUT per forwarded batch of up to 1,000 events: see
integration_tests/receiver/test_queue_intake.py, which forwards to the Graph stand-in).

What it cannot count: the pollers' empty ReceiveMessage calls while the queue is idle (Lambda
long-polls; AWS bills them as requests), and request chunks (64 KiB each: a single-event request
is ~1 KiB, one chunk).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections import Counter
from typing import Any

import boto3
from botocore.client import BaseClient
from moto.server import ThreadedMotoServer

AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
BILLED = ("SendMessage", "ReceiveMessage", "DeleteMessageBatch", "PutObject")


def v2_event(pixel_id: str, body: str) -> dict[str, Any]:
    path = f"/v1/pixels/{pixel_id}/events"
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "b",
            },
            "requestId": "id",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "26/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795680000000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--pixels", type=int, default=1)
    args = parser.parse_args()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, **AWS)
        sqs = boto3.client("sqs", endpoint_url=endpoint, **AWS)
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=bucket)
        queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
        os.environ.update(
            {
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
                "META_CAPI_LOG_LEVEL": "WARNING",
            }
        )
        from source_meta_capi.receiver import batch_handler, lambda_handler

        counts: Counter[str] = Counter()
        original = BaseClient._make_api_call

        def counted(client: Any, operation: str, params: Any) -> Any:
            counts[operation] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        pixels = [str(1_000_000_000 + n) for n in range(args.pixels)]
        started = time.monotonic()
        for index in range(args.requests):
            event = {
                "event_name": "Lead",
                "event_time": int(time.time()) - 30,
                "event_id": f"bench-{index}",
                "action_source": "email",
                "user_data": {"em": f"user{index}@example.com", "country": "US"},
            }
            answer = lambda_handler.handler(v2_event(pixels[index % len(pixels)], json.dumps({"data": [event]})), None)
            assert answer["statusCode"] == 200, answer["body"]
        api_s = time.monotonic() - started
        invocations = 0
        while True:
            received: list[dict[str, Any]] = []
            while len(received) < args.batch_size:
                page = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=min(10, args.batch_size - len(received))
                ).get("Messages", [])
                if not page:
                    break
                received.extend(page)
            if not received:
                break
            records = [{"messageId": m["MessageId"], "body": m["Body"], "attributes": {}} for m in received]
            result = batch_handler.handler({"Records": records}, None)
            invocations += 1
            failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
            assert not failed, failed
            for start in range(0, len(received), 10):
                chunk = received[start : start + 10]
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        BaseClient._make_api_call = original  # type: ignore[method-assign]
        billed = {name: counts[name] for name in BILLED}
        scale = 1_000_000 / args.requests
        print(
            f"{args.requests} single-event requests, {args.pixels} pixel(s), batch size {args.batch_size}: "
            f"{invocations} batch invocations; API handler {api_s / args.requests * 1000:.2f} ms per request here"
        )
        print("operation            count   per request   per 1M requests")
        for name, count in billed.items():
            print(f"{name:<18} {count:>7}   {count / args.requests:>11.4f}   {count * scale:>15,.0f}")
        sqs_requests = billed["SendMessage"] + billed["ReceiveMessage"] + billed["DeleteMessageBatch"]
        print(
            f"per 1M requests: {sqs_requests * scale:,.0f} SQS requests (${sqs_requests * scale * 0.40 / 1e6:.2f}), "
            f"{billed['PutObject'] * scale:,.0f} S3 PUTs (${billed['PutObject'] * scale * 5 / 1e6:.3f})"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
