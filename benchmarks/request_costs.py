"""Billable requests per request and dollars per million events, per runner and traffic shape
(issue 16 item 4; the cost model of docs/deploy.md is this script's output).

    .venv/bin/python -m benchmarks.request_costs            # ~3.5 min on 2 cores (~30 s with --skip-queue)
    .venv/bin/python -m benchmarks.request_costs --skip-container

Measured here, against moto's server (S3, SQS) on 127.0.0.1 (started and stopped by the script):
- Lambda, direct mode: the Lambda handler in-process with API Gateway HTTP API (v2) events,
  every AWS call it makes counted by operation (botocore), objects listed by area afterwards;
  once staging only and once forwarding inline to a local Graph API stand-in.
- Container: a real `serve` process (group commit) with 32 concurrent closed-loop senders, as
  integration_tests/receiver/test_s3_puts_per_request.py; objects counted by listing.
- Lambda + SQS batching (queue intake): `benchmarks.queue_intake_requests.measure_queue_intake`,
  the real API handler in queue mode and the real batch handler fed the way the event source
  mapping feeds it (forwarding on, to the Graph API stand-in), every AWS call and every
  SendMessage's 64 KiB chunks counted; one run per traffic shape, with the messages per
  invocation the mapping would hand over at that rate (QUEUE_* inputs below).

Everything else (prices, durations, per-task capacity, connection reuse) is an input below, stated
in the printed tables.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from botocore.client import BaseClient

from benchmarks.queue_intake_requests import QueueIntakeCounts, measure_queue_intake
from integration_tests.support.s3 import moto_server, s3_client

PRICES_AS_OF = "2026-12-05"
# us-east-1 list prices (USD), as given in issue 16 item 4 and AWS's pricing pages on that date.
PRICE = {
    "apigw_rest_per_m": 3.50,
    "apigw_http_per_m": 1.00,
    "alb_hour": 0.0225,
    "alb_lcu_hour": 0.008,
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "lambda_per_m": 0.20,
    "lambda_gb_s": 0.0000166667,
    "s3_put_per_k": 0.005,
    "s3_get_per_k": 0.0004,
    "s3_list_per_k": 0.005,
    "sqs_per_m": 0.40,
    "waf_per_m": 0.60,
    "waf_rule_month": 1.00,
    "waf_acl_month": 5.00,
    "secret_month": 0.40,
    "secret_per_10k_calls": 0.05,
    "logs_per_gb": 0.50,
}
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# Modelling inputs (not measured here; change them and rerun).
WAF_RULES = 6  # the template's web ACL: allowlist, rate limit, body size, 3 AWS managed groups
SECRETS = 2  # webhook secrets + Meta tokens (hub and app secrets are optional)
LAMBDA_MEMORY_GB = 1.0  # LambdaMemoryMB default
LAMBDA_SECONDS = {1: 0.06, 100: 0.25}  # billed duration per request: one S3 PUT (+ hashing 100 events)
LAMBDA_FORWARD_SECONDS = 0.25  # inline forwarding adds Meta's round trip
LAMBDA_PLATFORM_LOG_BYTES = 350  # START / END / REPORT lines per invocation
TASK_VCPU, TASK_GB, MIN_TASKS = 1.0, 2.0, 2  # ReceiverTaskCpu / ReceiverTaskMemory / ReceiverMinTasks defaults
TASK_REQUESTS_PER_S = 500  # ReceiverRequestsPerTaskPerMinute default / 60 (local bench: 2,368/s on 2 cores)
TASK_EVENTS_PER_S = 15_000  # per vCPU task for batched requests (local bench: 17,079 events/s on one core)
NAIVE_REQUESTS_PER_S = 150  # one synchronous PUT per request caps a process near 100-175 requests/s (DESIGN.md)
COMMIT_LATENCY_S = 0.05  # one S3 conditional PUT in-region, p50-ish; moto on loopback is ~5 ms
GROUP_MAX_EVENTS = 5000  # META_CAPI_GROUP_COMMIT_MAX_EVENTS default
REQUESTS_PER_CONNECTION = 10  # keep-alive reuse by senders at the ALB
RESPONSE_BYTES = 400
# Queue intake: the template's event source mapping (QueueBatchSize, QueueBatchingWindowSeconds,
# QueueMaxConcurrency defaults) and Lambda's 6 MB invocation payload; messages per invocation at a
# rate = min(batch size, rate x window, payload / (message + record envelope)).
QUEUE_BATCH_SIZE, QUEUE_WINDOW_S, QUEUE_MAX_CONCURRENCY = 1000, 10, 5
LAMBDA_PAYLOAD_BYTES, SQS_RECORD_ENVELOPE_BYTES = 6_000_000, 1024
QUEUE_BATCHES = 2  # measured invocations per shape
# Assumed billed durations (moto's wall times are printed next to them, not used):
QUEUE_API_SECONDS = {1: 0.03, 100: 0.22}  # API Lambda: one SendMessage (+ hashing 100 events)
QUEUE_BATCH_MEMORY_GB = 1.0  # QueueBatchFunction MemorySize 1024
QUEUE_BATCH_BASE_S, QUEUE_BATCH_EVENT_S = 0.3, 0.0005  # per invocation, per event (decode, stage)
QUEUE_FORWARD_CALL_S = 0.25  # per call to Meta (up to 1,000 events), as LAMBDA_FORWARD_SECONDS
# Idle long polls: Lambda's pollers (assumed 5) each long-poll (20 s) around the clock.
QUEUE_POLLERS, QUEUE_LONG_POLL_S = 5, 20
RATES = (10, 1000)
SHAPES = (1, 100)
SENDERS = 32


@dataclass
class Measured:
    """What one runner did for `requests` requests of `events` events each."""

    runner: str
    events: int
    requests: int
    body_bytes: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    objects: Counter[str] = field(default_factory=Counter)
    log_bytes: float = 0.0

    def per_request(self, counter: Counter[str], name: str) -> float:
        return counter[name] / self.requests


# ---------------------------------------------------------------- moto
@contextmanager
def moto() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    with moto_server() as endpoint:
        yield endpoint


def new_bucket(endpoint: str) -> str:
    name = f"costs-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def objects_by_area(endpoint: str, bucket: str, prefix: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for page in s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix) + 1 :].split("/", 1)[0]] += 1
    return found


@contextmanager
def counting_aws_calls(calls: Counter[str]) -> Iterator[None]:
    """Count every AWS API call made in this process, as `service:Operation` (one billable request each)."""
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: Any) -> Any:
        calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return original(client, operation, params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


# ---------------------------------------------------------------- Lambda, direct mode
def http_api_event(body: str, headers: dict[str, str], path: str) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) proxy event, as API Gateway sends it."""
    now = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "costs",
            "domainName": "costs.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "costs",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "costs",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "05/Dec/2026:04:00:00 +0000",
            "timeEpoch": now,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def measure_lambda(endpoint: str, events: int, requests: int, *, forward: bool) -> Measured:
    from integration_tests.receiver.conftest import PIXEL, SECRET, TOKEN, event, sw_headers
    from integration_tests.support.graph_stand_in import GraphStandIn
    from source_meta_capi.receiver import json_logging, lambda_handler

    bucket = new_bucket(endpoint)
    measured = Measured("lambda (direct)" + (", inline forward" if forward else ""), events, requests)
    logs = io.StringIO()
    saved_env, saved_stderr = dict(os.environ), sys.stderr
    with GraphStandIn(access_token=TOKEN, pixels=[PIXEL]) as graph:
        os.environ.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": "meta-capi-receiver",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "META_CAPI_STAGING_URL": f"s3://{bucket}/capi",
                "META_CAPI_S3_ENDPOINT_URL": endpoint,
                "META_CAPI_S3_REGION": "us-east-1",
                "META_CAPI_WEBHOOK_SECRETS": SECRET,
                "META_CAPI_FORWARD_MODE": "inline" if forward else "off",
                "META_CAPI_LOG_LEVEL": "INFO",
                **(
                    {"META_CAPI_ACCESS_TOKENS": f"{PIXEL}={TOKEN}", "META_CAPI_GRAPH_BASE_URL": graph.base_url}
                    if forward
                    else {}
                ),
            }
        )
        lambda_handler._handler = None
        sys.stderr = logs  # the cold start binds the JSON log handler to sys.stderr
        path = f"/v1/pixels/{PIXEL}/events"
        try:
            # The cold start (secret resolution, client creation) is outside the per-request count.
            warm = json.dumps({"data": [event(f"warm-{uuid.uuid4().hex}")]})
            lambda_handler.handler(http_api_event(warm, sw_headers(warm), path), None)
            base = objects_by_area(endpoint, bucket, "capi")
            logs.seek(0)
            logs.truncate()
            with counting_aws_calls(measured.calls):
                for number in range(requests):
                    body = json.dumps(
                        {"data": [event(f"r{number}-e{i}-{uuid.uuid4().hex[:8]}") for i in range(events)]}
                    )
                    measured.body_bytes += len(body) / requests
                    answer = lambda_handler.handler(http_api_event(body, sw_headers(body), path), None)
                    assert answer["statusCode"] == 200, answer
        finally:
            sys.stderr = saved_stderr
            runtime = getattr(getattr(getattr(lambda_handler._handler, "app", None), "state", None), "runtime", None)
            if runtime is not None:
                runtime.close()
            lambda_handler._handler = None
            os.environ.clear()
            os.environ.update(saved_env)
            for name in (json_logging.LOGGER_NAME, "uvicorn", "uvicorn.error"):
                logging.getLogger(name).handlers.clear()
    measured.objects = objects_by_area(endpoint, bucket, "capi")
    measured.objects.subtract(base)
    measured.log_bytes = len(logs.getvalue().encode()) / requests + LAMBDA_PLATFORM_LOG_BYTES
    return measured


# ---------------------------------------------------------------- container, group commit
def measure_container(endpoint: str, events: int, requests: int) -> Measured:
    from integration_tests.reliability.processes import ReceiverProcess, receiver_env
    from integration_tests.reliability.sender import send_all
    from integration_tests.reliability.traffic import PIXEL, Ledger, plan_requests

    bucket = new_bucket(endpoint)
    measured = Measured(f"container (serve, {SENDERS} senders)", events, requests)
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "receiver.log"
        receiver = ReceiverProcess(
            receiver_env(
                f"s3://{bucket}/capi",
                META_CAPI_S3_ENDPOINT_URL=endpoint,
                META_CAPI_S3_REGION="us-east-1",
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                META_CAPI_COMMIT_DEADLINE_S="10",
                # Group commit with its defaults: the rejoin wait gathers the answered senders
                # into the next group (no linger).
            ),
            log_path,
        ).start()
        planned = plan_requests(requests, events, run=f"costs{events}", pixels=(PIXEL,))
        ledger = Ledger(planned)
        try:
            send_all(planned, lambda: receiver.url, ledger, concurrency=SENDERS, budget_s=300)
        finally:
            receiver.stop()
        assert ledger.attempts == {"200": requests}, ledger.attempts
        measured.log_bytes = log_path.stat().st_size / requests if log_path.exists() else 0.0
    measured.body_bytes = sum(len(p.body) for p in planned) / requests
    measured.objects = objects_by_area(endpoint, bucket, "capi")
    measured.calls["s3:PutObject"] = sum(measured.objects.values())
    return measured


# ---------------------------------------------------------------- Lambda + SQS batching
def queue_batch_size(message_bytes: float, rate: int) -> int:
    """Messages per batch invocation the event source mapping hands over at `rate` requests/s."""
    by_payload = int(LAMBDA_PAYLOAD_BYTES // (message_bytes + SQS_RECORD_ENVELOPE_BYTES))
    return max(1, min(QUEUE_BATCH_SIZE, rate * QUEUE_WINDOW_S, by_payload))


def measure_queue(endpoint: str, events: int, rate: int) -> QueueIntakeCounts:
    """Measure the queue path for one shape: a probe for the message size, then QUEUE_BATCHES
    invocations' worth of requests at the batch size that size and rate give."""
    probe = measure_queue_intake(endpoint, 5, 5, events=events)
    batch = queue_batch_size(probe.message_bytes / probe.requests, rate)
    return measure_queue_intake(endpoint, batch * QUEUE_BATCHES, batch, events=events, forward=True)


def queue_batch_seconds(q: QueueIntakeCounts) -> float:
    """Assumed billed seconds of one batch invocation of `q.messages_per_invocation` messages."""
    batch_events = q.messages_per_invocation * q.events
    forward_calls = q.calls["PutObject"] / q.invocations / 2 if q.forward else 0.0  # events + statuses
    return QUEUE_BATCH_BASE_S + batch_events * QUEUE_BATCH_EVENT_S + forward_calls * QUEUE_FORWARD_CALL_S


def queue_row(q: QueueIntakeCounts, rate: int, front: str) -> Row:
    sqs_requests = q.sqs_requests_per_request
    puts = q.per_request("PutObject")
    invocations = q.invocations / q.requests
    batch_gb_s = QUEUE_BATCH_MEMORY_GB * queue_batch_seconds(q)
    per_request = {
        front: PRICE["apigw_rest_per_m" if front == "API GW REST" else "apigw_http_per_m"] / 1e6,
        "api lambda": PRICE["lambda_per_m"] / 1e6
        + LAMBDA_MEMORY_GB * QUEUE_API_SECONDS[q.events] * PRICE["lambda_gb_s"],
        "sqs": sqs_requests * PRICE["sqs_per_m"] / 1e6,
        "s3": s3_dollars(puts),
        "batch lambda": invocations * PRICE["lambda_per_m"] / 1e6,
        "batch lambda gb-s": invocations * batch_gb_s * PRICE["lambda_gb_s"],
        "logs": (q.log_bytes / q.requests + LAMBDA_PLATFORM_LOG_BYTES * (1 + invocations)) / 1e9 * PRICE["logs_per_gb"],
    }
    idle_polls = QUEUE_POLLERS * SECONDS_PER_MONTH / QUEUE_LONG_POLL_S
    fixed = {"secrets": SECRETS * PRICE["secret_month"], "sqs idle polls": idle_polls * PRICE["sqs_per_m"] / 1e6}
    if front == "API GW REST":
        per_request["waf"] = PRICE["waf_per_m"] / 1e6
        fixed |= waf_fixed()
    note = f"{sqs_requests:.3f} SQS req, {puts:.4f} PUT, {invocations:.4f} batch inv ({batch_gb_s:.2f} GB-s) /req"
    name = f"Lambda + SQS batching, {front}" + (" + WAF" if front == "API GW REST" else " (no WAF)")
    return Row(name, q.events, rate, note, per_request, fixed)


def queue_split(row: Row) -> dict[str, float]:
    """A queue row's request-driven charges in $ per million requests: the ingest side's request
    charges (SQS + S3 + batch Lambda invocations), the batch Lambda's GB-s, their sum, and the
    front door (API Gateway + WAF + API Lambda requests and GB-s)."""
    per_m = {k: v * 1e6 * row.events for k, v in row.per_request.items()}  # per request, not per event
    requests = per_m["sqs"] + per_m["s3"] + per_m["batch lambda"]
    front = sum(v for k, v in per_m.items() if k.startswith("API GW") or k in ("waf", "api lambda"))
    return {
        "ingest requests": requests,
        "batch gb-s": per_m["batch lambda gb-s"],
        "ingest": requests + per_m["batch lambda gb-s"],
        "front door": front,
    }


# ---------------------------------------------------------------- the model
@dataclass
class Row:
    runner: str
    events: int
    rate: int
    requests_note: str
    per_request: dict[str, float]  # dollars per request by component
    fixed_month: dict[str, float]  # dollars per month by component

    def per_million_events(self) -> tuple[float, float, float]:
        """(request-driven, fixed share, total) dollars per million events."""
        events_month = self.rate * self.events * SECONDS_PER_MONTH
        variable = sum(self.per_request.values()) * 1e6 / self.events
        fixed = sum(self.fixed_month.values()) / events_month * 1e6
        return variable, fixed, variable + fixed


def s3_dollars(puts: float, gets: float = 0.0, lists: float = 0.0) -> float:
    return (puts * PRICE["s3_put_per_k"] + gets * PRICE["s3_get_per_k"] + lists * PRICE["s3_list_per_k"]) / 1000


def waf_fixed() -> dict[str, float]:
    return {"waf acl+rules": PRICE["waf_acl_month"] + WAF_RULES * PRICE["waf_rule_month"]}


def lambda_row(m: Measured, forwarded: Optional[Measured], rate: int, front: str) -> Row:
    chosen = forwarded or m
    puts = chosen.per_request(chosen.calls, "s3:PutObject")
    gets = chosen.per_request(chosen.calls, "s3:GetObject") + chosen.per_request(chosen.calls, "s3:HeadObject")
    lists = chosen.per_request(chosen.calls, "s3:ListObjectsV2")
    seconds = LAMBDA_SECONDS[m.events] + (LAMBDA_FORWARD_SECONDS if forwarded else 0.0)
    per_request = {
        front: PRICE["apigw_rest_per_m" if front == "API GW REST" else "apigw_http_per_m"] / 1e6,
        "lambda": PRICE["lambda_per_m"] / 1e6 + LAMBDA_MEMORY_GB * seconds * PRICE["lambda_gb_s"],
        "s3": s3_dollars(puts, gets, lists),
        "logs": chosen.log_bytes / 1e9 * PRICE["logs_per_gb"],
    }
    fixed = {"secrets": SECRETS * PRICE["secret_month"]}
    if front == "API GW REST":
        per_request["waf"] = PRICE["waf_per_m"] / 1e6
        fixed |= waf_fixed()
    note = f"{puts:.2f} PUT, {gets:.2f} GET, {lists:.2f} LIST /req"
    name = f"Lambda direct, {front}" + (" + WAF" if front == "API GW REST" else " (no WAF)")
    return Row(name + (", inline forward" if forwarded else ", stage only"), m.events, rate, note, per_request, fixed)


def tasks_for(events: int, rate: int, requests_per_task: int) -> int:
    return max(MIN_TASKS, math.ceil(rate / requests_per_task), math.ceil(rate * events / TASK_EVENTS_PER_S))


def container_objects_per_request(events: int, rate: int) -> tuple[float, float]:
    """Objects per request at `rate`: 1 / group size, the group being the requests that reach a
    task while its previous write is in flight, at most GROUP_MAX_EVENTS events, at least 1."""
    tasks = tasks_for(events, rate, TASK_REQUESTS_PER_S)
    group = rate / tasks * COMMIT_LATENCY_S
    group = max(1.0, min(group, GROUP_MAX_EVENTS / events))
    return 1 / group, tasks


def alb_lcus(rate: int, body_bytes: float) -> float:
    new_connections = rate / REQUESTS_PER_CONNECTION / 25
    active = rate / REQUESTS_PER_CONNECTION * 60 / 3000  # each connection counted in the minute it opens
    processed_gb_hour = rate * (body_bytes + RESPONSE_BYTES) * 3600 / 1e9
    rule_evaluations = 0.0  # one listener rule: within the 10 free rules
    return max(new_connections, active, processed_gb_hour, rule_evaluations)


def container_row(m: Measured, rate: int, *, naive: bool = False) -> Row:
    objects, tasks = container_objects_per_request(m.events, rate)
    if naive:
        objects = 1.0
        tasks = tasks_for(m.events, rate, NAIVE_REQUESTS_PER_S)
    per_request = {
        "waf": PRICE["waf_per_m"] / 1e6,
        "s3": s3_dollars(objects),
        "logs": m.log_bytes / 1e9 * PRICE["logs_per_gb"],
    }
    fixed = {
        "alb": HOURS_PER_MONTH * (PRICE["alb_hour"] + alb_lcus(rate, m.body_bytes) * PRICE["alb_lcu_hour"]),
        "fargate": HOURS_PER_MONTH
        * tasks
        * (TASK_VCPU * PRICE["fargate_vcpu_hour"] + TASK_GB * PRICE["fargate_gb_hour"]),
        "secrets": SECRETS * PRICE["secret_month"],
        # /readyz: one conditional PUT per task per 5 minutes.
        "readyz": tasks * 12 * HOURS_PER_MONTH * PRICE["s3_put_per_k"] / 1000,
        **waf_fixed(),
    }
    name = "naive container, 1 PUT/request, ALB + WAF" if naive else "container (group commit), ALB + WAF"
    return Row(name, m.events, rate, f"{objects:.3f} PUT/req, {tasks} tasks", per_request, fixed)


def rows(
    lambda_off: dict[int, Measured],
    lambda_fwd: dict[int, Measured],
    container: dict[int, Measured],
    queue: dict[tuple[int, int], QueueIntakeCounts],
) -> list[Row]:
    found: list[Row] = []
    for events in SHAPES:
        for rate in RATES:
            found.append(lambda_row(lambda_off[events], None, rate, "API GW REST"))
            found.append(lambda_row(lambda_off[events], lambda_fwd[events], rate, "API GW REST"))
            found.append(lambda_row(lambda_off[events], lambda_fwd[events], rate, "API GW HTTP"))
            if (events, rate) in queue:
                found.append(queue_row(queue[(events, rate)], rate, "API GW REST"))
                found.append(queue_row(queue[(events, rate)], rate, "API GW HTTP"))
            if events in container:
                found.append(container_row(container[events], rate))
                found.append(container_row(container[events], rate, naive=True))
    return found


def print_measured(measured: list[Measured]) -> None:
    print("\n## Measured (moto on 127.0.0.1)\n")
    print(
        "| runner | events/request | requests | S3 PUT/request | S3 GET/request | S3 LIST/request | objects written by area, per request | log bytes/request | body bytes |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for m in measured:
        areas = ", ".join(f"{area} {count / m.requests:.3f}" for area, count in sorted(m.objects.items()) if count)
        print(
            f"| {m.runner} | {m.events} | {m.requests} | {m.per_request(m.calls, 's3:PutObject'):.3f} "
            f"| {m.per_request(m.calls, 's3:GetObject') + m.per_request(m.calls, 's3:HeadObject'):.3f} "
            f"| {m.per_request(m.calls, 's3:ListObjectsV2'):.3f} | {areas} | {m.log_bytes:,.0f} | {m.body_bytes:,.0f} |"
        )
    other = sorted({c for m in measured for c in m.calls if not c.startswith("s3:")})
    if other:
        print(f"\nOther AWS calls per request: {', '.join(other)}")


def print_queue(queue: dict[tuple[int, int], QueueIntakeCounts]) -> None:
    print("\n## Measured: Lambda + SQS batching (moto on 127.0.0.1, forwarding on)\n")
    print(
        "| events/request | at requests/s | messages/invocation | requests | SendMessage (64 KiB chunks)/request | ReceiveMessage/request | DeleteMessageBatch/request | SQS requests/request | S3 PUT/request | batch invocations/request | message bytes | assumed GB-s per batch invocation | moto wall ms: API handler/request, batch handler/invocation |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (events, rate), q in sorted(queue.items()):
        print(
            f"| {events} | {rate:,} | {q.messages_per_invocation:,.0f} | {q.requests:,} | {q.send_chunks / q.requests:.3f} "
            f"| {q.per_request('ReceiveMessage'):.3f} | {q.per_request('DeleteMessageBatch'):.3f} "
            f"| {q.sqs_requests_per_request:.3f} | {q.per_request('PutObject'):.4f} | {q.invocations / q.requests:.4f} "
            f"| {q.message_bytes / q.requests:,.0f} | {QUEUE_BATCH_MEMORY_GB * queue_batch_seconds(q):.2f} "
            f"| {q.api_s / q.requests * 1000:.1f}, {q.batch_s / q.invocations * 1000:.0f} |"
        )


def print_queue_target(found: list[Row]) -> None:
    print(
        "\n## Issue 16 target: request/ingest charges <= $0.50 per million single-event requests (Lambda batching path)\n"
    )
    print(
        "| runner | requests/s | ingest requests: SQS + S3 + batch Lambda invocations | + batch Lambda GB-s | ingest total | meets $0.50 | front door: API Gateway + WAF + API Lambda | meets $0.50 |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---|")
    for row in found:
        if row.runner.startswith("Lambda + SQS") and row.events == 1:
            split = queue_split(row)
            print(
                f"| {row.runner} | {row.rate:,} | {split['ingest requests']:.3f} | {split['batch gb-s']:.3f} "
                f"| **{split['ingest']:.3f}** | {'yes' if split['ingest'] <= 0.50 else 'no'} "
                f"| **{split['front door']:.3f}** | {'yes' if split['front door'] <= 0.50 else 'no'} |"
            )


def dollars(value: float) -> str:
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def print_costs(found: list[Row]) -> None:
    print(f"\n## Dollars per million events (us-east-1 list prices of {PRICES_AS_OF})\n")
    print(
        "| runner | events/request | requests/s | S3 requests per request (tasks) | request-driven $/M events | fixed $/M events | total $/M events | largest items ($/M events) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for row in found:
        variable, fixed, total = row.per_million_events()
        events_month = row.rate * row.events * SECONDS_PER_MONTH
        items = {k: v * 1e6 / row.events for k, v in row.per_request.items()}
        items |= {k: v / events_month * 1e6 for k, v in row.fixed_month.items()}
        top = ", ".join(f"{k} {dollars(v)}" for k, v in sorted(items.items(), key=lambda kv: -kv[1])[:3])
        print(
            f"| {row.runner} | {row.events} | {row.rate:,} | {row.requests_note} | {dollars(variable)} | {dollars(fixed)} | **{dollars(total)}** | {top} |"
        )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="Lambda requests per shape")
    parser.add_argument("--container-requests", type=int, default=640, help="container requests per shape")
    parser.add_argument("--skip-container", action="store_true")
    parser.add_argument("--skip-queue", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with moto() as endpoint:
        lambda_off = {e: measure_lambda(endpoint, e, args.requests, forward=False) for e in SHAPES}
        lambda_fwd = {e: measure_lambda(endpoint, e, args.requests, forward=True) for e in SHAPES}
        container: dict[int, Measured] = {}
        if not args.skip_container:
            container[1] = measure_container(endpoint, 1, args.container_requests)
            container[100] = measure_container(endpoint, 100, max(64, args.container_requests // 5))
        queue: dict[tuple[int, int], QueueIntakeCounts] = {}
        if not args.skip_queue:
            queue = {(e, r): measure_queue(endpoint, e, r) for e in SHAPES for r in RATES}
    print(f"# request_costs - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.monotonic() - started:.0f} s")
    print_measured([*lambda_off.values(), *lambda_fwd.values(), *container.values()])
    if queue:
        print_queue(queue)
    found = rows(lambda_off, lambda_fwd, container, queue)
    print_costs(found)
    if queue:
        print_queue_target(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
