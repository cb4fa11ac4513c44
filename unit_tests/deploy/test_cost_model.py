"""The cost model of docs/deploy.md (benchmarks/request_costs.py): its arithmetic and what it claims."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import request_costs as costs

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


def test_given_docs_when_reading_the_cost_model_then_the_sqs_rows_are_marked_placeholders() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| Lambda + SQS batching")]
    assert rows and all("PLACEHOLDER" in line for line in rows)
    assert "python -m benchmarks.request_costs" in text
