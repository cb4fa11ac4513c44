"""CapiEventsClient over real HTTP against the Graph stand-in on 127.0.0.1.

Time is faked (backoff sleeps advance a counter) so throttling scenarios run instantly; the
HTTP, JSON and error shapes are real.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from integration_tests.support.graph_stand_in import DEFAULT_PIXEL_ID, EVENTS, GraphStandIn
from integration_tests.support.graph_stand_in.responses import (
    ScriptedResponse,
    delayed,
    error_envelope,
    graph_error,
    html_error,
    rate_limited,
    server_error,
    usage_headers,
)
from source_meta_capi.capi.delivery_report import DeliveryReport
from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.capi.graph_errors import ErrorClass

TOKEN = "EAAB-stand-in-token-0123456789"
NOW = 1_790_000_000.0


@dataclass
class FakeClock:
    now: float = 500.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def utcnow(self) -> datetime:
        return datetime(2026, 11, 26, tzinfo=UTC) + timedelta(seconds=self.now)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(access_token=TOKEN, clock=lambda: NOW) as stand_in:
        yield stand_in


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _client(graph: GraphStandIn, clock: FakeClock, **kwargs: Any) -> CapiEventsClient:
    options: dict[str, Any] = {
        "monotonic": clock.monotonic,
        "sleep": clock.sleep,
        "utcnow": clock.utcnow,
        "unix_time": lambda: NOW,
        "rng": random.Random(3),
        **kwargs,
    }
    return CapiEventsClient(graph.base_url, "v26.0", requests.Session(), **options)


def _events(count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_name": "Purchase",
            "event_time": int(NOW) - 60,
            "event_id": f"order-{i}",
            "action_source": "website",
            "user_data": {"em": ["b" * 64], "client_ip_address": "192.0.2.1"},
            "custom_data": {"currency": "EUR", "value": 10 + i},
        }
        for i in range(count)
    ]


def _assert_token_absent(report: DeliveryReport) -> None:
    assert TOKEN not in repr(report)
    for record in report.attempts:
        assert TOKEN not in repr(astuple(record))


def test_given_valid_events_when_sent_then_meta_receives_them_once(graph: GraphStandIn, clock: FakeClock) -> None:
    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, TOKEN, _events(3))

    assert report.complete and report.events_received == 3
    assert graph.received_event_ids(DEFAULT_PIXEL_ID) == ["order-0", "order-1", "order-2"]
    assert report.attempts[0].fbtrace_id == "StandIn000001"
    assert graph.requests_to(EVENTS)[0].headers["authorization"] == "Bearer ***"
    assert TOKEN not in graph.requests_to(EVENTS)[0].path
    _assert_token_absent(report)


def test_given_a_429_with_usage_headers_then_success_when_sent_then_waits_regain_time(
    graph: GraphStandIn, clock: FakeClock
) -> None:
    body = error_envelope(4, "(#4) Application request limit reached", is_transient=True)
    graph.enqueue(EVENTS, ScriptedResponse(429, body, usage_headers(app_pct=100, regain_minutes=1)))

    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, TOKEN, _events(2))

    assert report.complete
    assert [a.http_status for a in report.attempts] == [429, 200]
    assert report.attempts[0].error_class is ErrorClass.THROTTLED
    assert clock.sleeps == [60.0]
    assert report.attempts[0].next_retry_at == report.attempts[1].started_at
    assert graph.received_event_ids() == ["order-0", "order-1"]
    _assert_token_absent(report)


@pytest.mark.parametrize(
    "fault",
    [rate_limited(17, 2446079), rate_limited(613, 1487742), rate_limited(4), server_error(503), html_error(502)],
)
def test_given_one_retryable_fault_when_sent_then_delivered_on_the_retry(
    graph: GraphStandIn, clock: FakeClock, fault: ScriptedResponse
) -> None:
    graph.enqueue(EVENTS, fault)

    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, TOKEN, _events(4))

    assert report.complete and len(report.attempts) == 2
    assert report.attempts[0].retryable and report.attempts[0].next_retry_at is not None
    assert Counter(graph.received_event_ids()) == Counter(f"order-{i}" for i in range(4))
    _assert_token_absent(report)


def test_given_a_5xx_storm_when_sent_then_undelivered_after_the_budget(graph: GraphStandIn, clock: FakeClock) -> None:
    graph.enqueue(EVENTS, *[server_error(500) for _ in range(10)])

    report = _client(graph, clock, max_attempts=4).send(DEFAULT_PIXEL_ID, TOKEN, _events(3))

    assert len(graph.requests_to(EVENTS)) == 4
    assert report.undelivered_event_ids == ("order-0", "order-1", "order-2")
    assert "retry budget exhausted after 4 tries" in (report.undelivered[0].reason or "")
    assert graph.received_event_ids() == []
    _assert_token_absent(report)


@pytest.mark.parametrize("blame_index", [False, True])
def test_given_one_bad_event_in_ten_when_sent_then_nine_delivered_once_and_one_rejected(
    graph: GraphStandIn, clock: FakeClock, blame_index: bool
) -> None:
    graph.reject_event_ids({"order-6"}, blame_index=blame_index)

    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, TOKEN, _events(10))

    assert report.rejected_event_ids == ("order-6",)
    assert report.rejected[0].error is not None and report.rejected[0].error.subcode == 2804009
    assert len(report.delivered_event_ids) == 9 and report.undelivered_event_ids == ()
    received = graph.received_event_ids(DEFAULT_PIXEL_ID)
    assert sorted(received) == sorted(f"order-{i}" for i in range(10) if i != 6)
    assert len(received) == len(set(received)), "an event was delivered twice"
    assert clock.sleeps == []
    if blame_index:
        assert len(report.attempts) == 3
    _assert_token_absent(report)


def test_given_an_expired_token_when_sent_then_halted_with_an_actionable_reason(
    graph: GraphStandIn, clock: FakeClock
) -> None:
    graph.expired_tokens.add("EAAB-expired-token-123456789")

    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, "EAAB-expired-token-123456789", _events(2))

    assert report.halted_by is not None and (report.halted_by.code, report.halted_by.subcode) == (190, 463)
    assert report.undelivered_event_ids == ("order-0", "order-1")
    assert "Access token is invalid or expired (190/463)" in (report.undelivered[0].reason or "")
    assert "EAAB-expired" not in repr(report)


def test_given_an_unshared_pixel_when_sent_then_auth_error_100_33(graph: GraphStandIn, clock: FakeClock) -> None:
    report = _client(graph, clock).send("999", TOKEN, _events(1))

    assert report.attempts[0].error_class is ErrorClass.AUTH
    assert (report.attempts[0].error_code, report.attempts[0].error_subcode) == (100, 33)


def test_given_an_app_secret_when_sent_then_the_timed_proof_is_accepted(clock: FakeClock) -> None:
    with GraphStandIn(access_token=TOKEN, app_secret="app-secret", clock=lambda: NOW) as graph:
        good = _client(graph, clock, app_secret="app-secret").send(DEFAULT_PIXEL_ID, TOKEN, _events(1))
        classic = _client(graph, clock, app_secret="app-secret", appsecret_timed=False).send(
            DEFAULT_PIXEL_ID, TOKEN, _events(1)
        )
        wrong = _client(graph, clock, app_secret="other-secret").send(DEFAULT_PIXEL_ID, TOKEN, _events(3))

    assert good.complete and classic.complete
    assert wrong.halted_by is not None and wrong.attempts[0].error_class is ErrorClass.AUTH
    assert len(wrong.attempts) == 1, "a wrong proof must not be bisected"


def test_given_a_stale_event_when_sent_then_meta_rejects_it_and_the_rest_goes_through(
    graph: GraphStandIn, clock: FakeClock
) -> None:
    events = _events(4)
    events[2]["event_time"] = int(NOW) - 8 * 86400

    report = _client(graph, clock).send(DEFAULT_PIXEL_ID, TOKEN, events)

    assert report.rejected_event_ids == ("order-2",)
    assert "Event Timestamp Too Old" in (report.rejected[0].reason or "")
    assert sorted(graph.received_event_ids()) == ["order-0", "order-1", "order-3"]


def test_given_meta_answers_after_the_timeout_when_retried_then_at_least_once_with_the_same_event_id(
    graph: GraphStandIn,
) -> None:
    graph.enqueue(EVENTS, delayed(0.6))
    client = CapiEventsClient(graph.base_url, "v26.0", timeout=0.2, sleep=lambda _: None, rng=random.Random(0))

    report = client.send(DEFAULT_PIXEL_ID, TOKEN, _events(1))

    deadline = time.monotonic() + 5
    while len(graph.received_event_ids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert report.complete and report.attempts[0].http_status is None
    # §5: Meta keeps the first of two events with the same event_name + event_id (48 h).
    assert graph.received_event_ids() == ["order-0", "order-0"]


def test_given_a_scripted_auth_fault_mid_send_when_sent_then_later_chunks_stay_undelivered(
    graph: GraphStandIn, clock: FakeClock
) -> None:
    graph.enqueue(EVENTS, ScriptedResponse(passthrough=True), graph_error(190, 460))

    report = _client(graph, clock, max_batch_size=2).send(DEFAULT_PIXEL_ID, TOKEN, _events(6))

    assert report.delivered_event_ids == ("order-0", "order-1")
    assert report.undelivered_event_ids == ("order-2", "order-3", "order-4", "order-5")
    assert len(graph.requests_to(EVENTS)) == 2
