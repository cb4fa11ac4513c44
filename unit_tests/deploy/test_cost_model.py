"""The cost model of docs/deploy.md (benchmarks/request_costs.py): its arithmetic and what it claims."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from benchmarks import request_costs as costs
from benchmarks.queue_intake_requests import QueueIntakeCounts, measure_queue_intake

from .conftest import ROOT


def measured(runner: str, events: int, puts_per_request: float, requests: int = 100) -> costs.Measured:
    found = costs.Measured(runner, events, requests, body_bytes=200.0 * events, log_bytes=0.0)
    found.calls = Counter({"s3:PutObject": round(puts_per_request * requests)})
    return found


def test_given_a_trickle_when_modelling_the_container_then_every_request_gets_its_own_object() -> None:
    objects, tasks = costs.container_objects_per_request(1, 10)
    assert (objects, tasks) == (1.0, costs.MIN_TASKS)


def test_given_1000_requests_per_second_when_modelling_the_container_then_one_object_per_group() -> None:
    objects, tasks = costs.container_objects_per_request(1, 1000)
    group = 1000 / tasks * costs.COMMIT_LATENCY_S
    assert objects == pytest.approx(1 / group) and objects <= 0.05


def test_given_large_requests_when_modelling_the_container_then_a_group_holds_at_most_the_max_events() -> None:
    objects, _ = costs.container_objects_per_request(1000, 100_000)
    assert objects >= 1000 / costs.GROUP_MAX_EVENTS


def test_given_one_put_per_single_event_request_when_pricing_then_s3_is_5_dollars_per_million() -> None:
    row = costs.lambda_row(measured("lambda", 1, 1.0), None, 1000, "API GW REST")
    per_million = {name: value * 1e6 for name, value in row.per_request.items()}
    assert per_million["s3"] == pytest.approx(5.0)
    assert per_million["API GW REST"] == pytest.approx(3.5) and per_million["waf"] == pytest.approx(0.6)


def test_given_rate_when_spreading_fixed_costs_then_ten_times_the_rate_is_a_tenth_per_event() -> None:
    slow = costs.container_row(measured("container", 1, 0.03), 10)
    fast = costs.container_row(measured("container", 1, 0.03), 100)
    assert slow.fixed_month["waf acl+rules"] == fast.fixed_month["waf acl+rules"]
    assert slow.per_million_events()[1] > fast.per_million_events()[1]


def queue_counts(requests: int = 1000, per_invocation: int = 1000, receives: int = 100) -> QueueIntakeCounts:
    invocations = requests // per_invocation
    found = QueueIntakeCounts(requests, 1, per_invocation, 1, True, send_chunks=requests, message_bytes=600 * requests)
    found.calls = Counter(
        {
            "SendMessage": requests,
            "ReceiveMessage": receives,
            "DeleteMessageBatch": requests // 10,
            "PutObject": 2 * invocations,
        }
    )
    found.invocations = invocations
    return found


def test_given_the_mappings_limits_when_sizing_a_batch_then_rate_window_and_payload_bound_it() -> None:
    assert costs.queue_batch_size(600, 10) == 10 * costs.QUEUE_WINDOW_S
    assert costs.queue_batch_size(600, 1000) == costs.QUEUE_BATCH_SIZE
    assert costs.queue_batch_size(13_000, 1000) == costs.LAMBDA_PAYLOAD_BYTES // (
        13_000 + costs.SQS_RECORD_ENVELOPE_BYTES
    )


def test_given_ideal_counts_when_pricing_the_queue_row_then_sqs_s3_and_batch_lambda_add_up() -> None:
    row = costs.queue_row(queue_counts(), 1000, "API GW HTTP")
    per_million = {name: value * 1e6 for name, value in row.per_request.items()}
    assert per_million["sqs"] == pytest.approx(1.2 * 0.40)
    assert per_million["s3"] == pytest.approx(0.002 * 5.0)
    seconds = costs.QUEUE_BATCH_BASE_S + 1000 * costs.QUEUE_BATCH_EVENT_S + costs.QUEUE_FORWARD_CALL_S
    assert per_million["batch lambda"] == pytest.approx(0.20 / 1000)
    assert per_million["batch lambda gb-s"] == pytest.approx(seconds * costs.PRICE["lambda_gb_s"] * 1e3)
    assert per_million["API GW HTTP"] == pytest.approx(1.0) and "waf" not in per_million
    split = costs.queue_split(row)
    assert split["ingest requests"] == pytest.approx(
        per_million["sqs"] + per_million["s3"] + per_million["batch lambda"]
    )
    assert split["ingest"] == pytest.approx(split["ingest requests"] + per_million["batch lambda gb-s"])
    assert split["ingest requests"] <= 0.50  # the floor: 10 per receive and delete, 1,000 messages per invocation
    assert split["front door"] == pytest.approx(per_million["API GW HTTP"] + per_million["api lambda"])
    assert split["front door"] > 1.0  # API Gateway alone is $1/M: the front door cannot meet $0.50


def test_given_moto_when_measuring_the_queue_path_then_the_counts_are_within_sane_bounds() -> None:
    with costs.moto() as endpoint:
        found = measure_queue_intake(endpoint, 40, 20, forward=True)
    assert found.calls["SendMessage"] == found.send_chunks == 40  # one ~600-byte message: one 64 KiB chunk each
    assert 0.1 - 1e-9 <= found.per_request("ReceiveMessage") <= 0.5  # 10 per receive is the floor
    assert 0.1 - 1e-9 <= found.per_request("DeleteMessageBatch") <= 0.5
    assert 2 <= found.invocations <= 8
    assert found.invocations <= found.calls["PutObject"] <= 2 * found.invocations  # events (+ statuses) per batch
    assert 1.2 - 1e-9 <= found.sqs_requests_per_request <= 2.0


def measured_queue_rows(text: str) -> list[list[str]]:
    start = text.index("Measured: Lambda + SQS batching")
    lines = text[start:].splitlines()
    table = [line for line in lines[: lines.index("", 2) + 12] if line.startswith("| ") and line[2].isdigit()]
    return [[cell.strip().replace(",", "") for cell in line.strip("|").split("|")] for line in table]


def test_given_docs_when_reading_the_cost_model_then_the_sqs_rows_are_measured_not_placeholders() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = text[text.index("## Cost model") : text.index("## Queue intake")]
    assert "placeholder" not in section.lower()
    rows = [line for line in section.splitlines() if line.startswith("| Lambda + SQS batching")]
    priced = [line for line in rows if "SQS req" in line and "batch inv" in line]
    assert len(priced) == 8  # 2 shapes x 2 rates x (HTTP API, REST + WAF)
    target = [line for line in rows if line not in priced]
    assert len(target) == 4 and all(line.endswith("| no |") for line in target)  # the front door never meets $0.50
    measured_rows = measured_queue_rows(section)
    assert len(measured_rows) == 4
    for cells in measured_rows:
        send, receive, delete, sqs, puts, invocations = (float(cells[i]) for i in range(4, 10))
        assert send == 1.0 and 0.1 <= receive <= 0.5 and 0.1 <= delete <= 0.5
        assert sqs == pytest.approx(send + receive + delete, abs=0.002)
        events, per_invocation = float(cells[0]), float(cells[2])
        assert invocations == pytest.approx(1 / per_invocation, rel=0.05)
        # events object + one statuses object per forwarded call of up to 1,000 events, per invocation
        assert 0 < puts <= (1 + math.ceil(events * per_invocation / 1000)) / per_invocation + 1e-4
    assert "python -m benchmarks.request_costs" in text
