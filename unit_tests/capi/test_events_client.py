"""CapiEventsClient against requests-mock: batching, retries, bisection, deadlines, secrecy."""

from __future__ import annotations

import json
import random
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import requests_mock

from source_meta_capi.capi.appsecret_proof import appsecret_proof, appsecret_proof_timed
from source_meta_capi.capi.delivery_report import DeliveryReport, EventFate
from source_meta_capi.capi.events_client import DEFAULT_PARTNER_AGENT, CapiEventsClient
from source_meta_capi.capi.graph_errors import ErrorClass

BASE = "https://graph.test"
PIXEL = "1234567890"
URL = f"{BASE}/v26.0/{PIXEL}/events"
TOKEN = "EAAB-secret-token-value"
EPOCH = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def utcnow(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now - 1000.0)


def _events(count: int, prefix: str = "e") -> list[dict[str, Any]]:
    return [
        {
            "event_name": "Purchase",
            "event_time": 1_790_000_000,
            "event_id": f"{prefix}{i}",
            "action_source": "website",
            "user_data": {"em": ["a" * 64]},
        }
        for i in range(count)
    ]


def _client(clock: FakeClock, **kwargs: Any) -> CapiEventsClient:
    return CapiEventsClient(
        BASE,
        "v26.0",
        requests.Session(),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        utcnow=clock.utcnow,
        unix_time=lambda: 1_700_000_000.0,
        rng=random.Random(1),
        **kwargs,
    )


def _ok(count: int, trace: str = "T") -> dict[str, Any]:
    return {"status_code": 200, "json": {"events_received": count, "messages": [], "fbtrace_id": trace}}


def _graph_error(code: int, subcode: int | None = None, status: int = 400, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": f"error {code}", "type": "OAuthException", "code": code, "fbtrace_id": "E"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"status_code": status, "json": {"error": error}}


def _sent_ids(request: Any) -> list[str]:
    return [event["event_id"] for event in json.loads(request.body)["data"]]


def _rejecting(bad: set[str], **error_extra: Any) -> Any:
    def respond(request: Any, context: Any) -> dict[str, Any]:
        ids = _sent_ids(request)
        if bad & set(ids):
            context.status_code = 400
            error = {"message": "Invalid parameter", "type": "OAuthException", "code": 100}
            error.update({"error_subcode": 2804009, "error_user_title": "Purchase value missing", **error_extra})
            if callable(error_extra.get("error_data")):
                error["error_data"] = error_extra["error_data"](ids)
            return {"error": error}
        return {"events_received": len(ids), "messages": [], "fbtrace_id": "OK"}

    return respond


def _assert_token_absent(report: DeliveryReport) -> None:
    assert TOKEN not in repr(report)
    for record in report.attempts:
        assert TOKEN not in repr(astuple(record))


def test_given_events_when_sent_then_one_json_request_with_bearer_token_and_partner_agent() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_ok(2, "Trace1"))
        report = _client(clock).send(PIXEL, TOKEN, _events(2), test_event_code="TEST123")

    request = mock.request_history[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert TOKEN not in request.url
    assert json.loads(request.body) == {
        "data": _events(2),
        "partner_agent": DEFAULT_PARTNER_AGENT,
        "test_event_code": "TEST123",
    }
    assert report.delivered_event_ids == ("e0", "e1")
    assert report.complete and report.events_received == 2
    (record,) = report.attempts
    assert (record.attempt, record.try_number, record.event_ids, record.http_status) == (1, 1, ("e0", "e1"), 200)
    assert (record.events_received, record.fbtrace_id, record.error_class, record.retryable) == (
        2,
        "Trace1",
        None,
        False,
    )
    assert record.started_at == EPOCH and record.next_retry_at is None and record.succeeded


def test_given_more_than_a_thousand_events_when_sent_then_split_into_requests_of_at_most_1000() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, [_ok(1000), _ok(1000), _ok(500)])
        report = _client(clock).send(PIXEL, TOKEN, _events(2500))

    assert [len(_sent_ids(r)) for r in mock.request_history] == [1000, 1000, 500]
    assert len(report.delivered_event_ids) == 2500 and report.complete


def test_given_a_5xx_then_success_when_sent_then_retried_after_a_jittered_backoff() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, [_graph_error(2, status=503, is_transient=True), _ok(3)])
        report = _client(clock).send(PIXEL, TOKEN, _events(3))

    assert report.complete
    first, second = report.attempts
    assert (first.error_class, first.retryable, first.error_code) == (ErrorClass.TRANSIENT, True, 2)
    assert len(clock.sleeps) == 1 and 0.5 <= clock.sleeps[0] <= 1.0
    assert first.next_retry_at == EPOCH + timedelta(seconds=clock.sleeps[0])
    assert (second.attempt, second.try_number) == (2, 2)


def test_given_throttling_with_regain_time_when_sent_then_waits_for_meta() -> None:
    clock = FakeClock()
    buc = {"1": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    throttled = _graph_error(17, 2446079)
    throttled["headers"] = {"X-Business-Use-Case-Usage": json.dumps(buc)}
    with requests_mock.Mocker() as mock:
        mock.post(URL, [throttled, _ok(1)])
        report = _client(clock).send(PIXEL, TOKEN, _events(1))

    assert report.complete
    assert report.attempts[0].error_class is ErrorClass.THROTTLED
    assert clock.sleeps == [120.0]


def test_given_high_usage_on_success_when_sending_the_next_chunk_then_paces() -> None:
    clock = FakeClock()
    busy = _ok(2)
    busy["headers"] = {"X-App-Usage": '{"call_count": 85, "total_time": 10, "total_cputime": 10}'}
    with requests_mock.Mocker() as mock:
        mock.post(URL, [busy, _ok(2)])
        report = _client(clock, max_batch_size=2).send(PIXEL, TOKEN, _events(4))

    assert report.complete
    assert clock.sleeps == [pytest.approx(2.5)]


@pytest.mark.parametrize(("code", "subcode"), [(190, 463), (100, 33), (200, None), (104, None)])
def test_given_an_auth_error_when_sent_then_no_retry_and_everything_undelivered(code: int, subcode: int | None) -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_graph_error(code, subcode))
        report = _client(clock, max_batch_size=2).send(PIXEL, TOKEN, _events(5))

    assert mock.call_count == 1 and clock.sleeps == []
    assert report.undelivered_event_ids == ("e0", "e1", "e2", "e3", "e4")
    assert report.halted_by is not None and report.halted_by.code == code
    assert report.attempts[0].error_class is ErrorClass.AUTH and not report.attempts[0].retryable
    assert f"pixel {PIXEL}" in (report.undelivered[0].reason or "")


def test_given_an_unknown_path_when_sent_then_halted_not_bisected() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_graph_error(2500))
        report = _client(clock).send(PIXEL, TOKEN, _events(4))

    assert mock.call_count == 1
    assert len(report.undelivered_event_ids) == 4 and report.halted_by is not None


def test_given_one_bad_event_in_a_batch_when_sent_then_bisected_and_the_rest_delivered() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, json=_rejecting({"e5"}))
        report = _client(clock).send(PIXEL, TOKEN, _events(8))

    assert report.rejected_event_ids == ("e5",)
    assert report.delivered_event_ids == ("e0", "e1", "e2", "e3", "e4", "e6", "e7")
    assert report.rejected[0].reason == "100/2804009: Purchase value missing"
    assert report.rejected[0].fate is EventFate.REJECTED
    assert mock.call_count == 7  # 8 -> 4+4 -> 2+2 -> 1+1
    assert clock.sleeps == []
    assert all(a.error_class in (None, ErrorClass.PERMANENT) and not a.retryable for a in report.attempts)
    assert [a.try_number for a in report.attempts] == [1] * 7


def test_given_blame_specs_naming_the_event_when_sent_then_bisection_shortcut() -> None:
    def blame(ids: list[str]) -> dict[str, Any]:
        return {"blame_field_specs": [["data", str(ids.index("e5")), "custom_data", "value"]]}

    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, json=_rejecting({"e5"}, error_data=blame))
        report = _client(clock).send(PIXEL, TOKEN, _events(16))

    assert report.rejected_event_ids == ("e5",)
    assert len(report.delivered_event_ids) == 15
    assert mock.call_count == 3  # whole batch, the other 15, e5 alone


def test_given_a_single_bad_event_when_sent_then_rejected_without_retry() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_graph_error(100, 2804003))
        report = _client(clock).send(PIXEL, TOKEN, _events(1))

    assert report.rejected_event_ids == ("e0",) and mock.call_count == 1


def test_given_a_request_too_heavy_when_sent_then_split_in_halves() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, [_graph_error(1, 99, status=500), _ok(2), _ok(2)])
        report = _client(clock).send(PIXEL, TOKEN, _events(4))

    assert report.complete
    assert [_sent_ids(r) for r in mock.request_history[1:]] == [["e0", "e1"], ["e2", "e3"]]


def test_given_a_5xx_storm_when_sent_then_undelivered_after_the_retry_budget() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, text="<html>bad gateway</html>", status_code=502)
        report = _client(clock, max_attempts=3).send(PIXEL, TOKEN, _events(2))

    assert mock.call_count == 3 and len(clock.sleeps) == 2
    assert report.undelivered_event_ids == ("e0", "e1")
    assert "retry budget exhausted after 3 tries (HTTP 502" in (report.undelivered[0].reason or "")
    assert report.attempts[-1].next_retry_at is None and report.attempts[-1].retryable


def test_given_timeouts_when_sent_then_retried_as_transient() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, [{"exc": requests.ReadTimeout(f"timeout for {URL}?access_token={TOKEN}")}, _ok(1)])
        report = _client(clock).send(PIXEL, TOKEN, _events(1))

    assert report.complete
    first = report.attempts[0]
    assert (first.http_status, first.error_class, first.error_message) == (
        None,
        ErrorClass.TRANSIENT,
        "No response within 1.5 s",
    )


def test_given_a_connection_error_when_sent_then_only_the_exception_type_is_kept() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, exc=requests.ConnectionError(f"Bearer {TOKEN}"))
        report = _client(clock, max_attempts=1).send(PIXEL, TOKEN, _events(1))

    assert report.attempts[0].error_message == "Request failed: ConnectionError"
    _assert_token_absent(report)


def test_given_a_deadline_when_backoff_would_pass_it_then_undelivered_without_waiting() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_graph_error(17))
        report = _client(clock).send(PIXEL, TOKEN, _events(2), deadline=clock.now + 2.0)  # throttled backoff >= 2.5 s

    assert mock.call_count == 1 and clock.sleeps == []
    assert report.undelivered_event_ids == ("e0", "e1")
    assert "deadline" in (report.undelivered[0].reason or "")


def test_given_an_expired_deadline_when_sent_then_nothing_is_requested() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        report = _client(clock).send(PIXEL, TOKEN, _events(2), deadline=clock.now)

    assert mock.call_count == 0 and report.undelivered_event_ids == ("e0", "e1")
    assert report.attempts == ()


def test_given_a_deadline_when_sent_then_the_request_timeout_shrinks_to_fit() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_ok(1))
        _client(clock, timeout=10).send(PIXEL, TOKEN, _events(1), deadline=clock.now + 0.5)

    assert mock.request_history[0].timeout == 0.5


def test_given_meta_echoes_the_token_when_recorded_then_it_is_masked_everywhere() -> None:
    clock = FakeClock()
    echo = _graph_error(100, 2804009, error_user_msg=f"token {TOKEN} bad", message=f"bad {TOKEN}")
    with requests_mock.Mocker() as mock:
        mock.post(URL, [echo, {"status_code": 200, "json": {"events_received": 1, "messages": [TOKEN]}}])
        report = _client(clock).send(PIXEL, TOKEN, _events(1))
        report_2 = _client(clock).send(PIXEL, TOKEN, _events(1))

    _assert_token_absent(report)
    _assert_token_absent(report_2)
    assert report_2.attempts[0].messages == ("***",)


@pytest.mark.parametrize("timed", [True, False])
def test_given_an_app_secret_when_sent_then_the_proof_goes_in_the_query(timed: bool) -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, **_ok(1))
        _client(clock, app_secret="app_secret", appsecret_timed=timed).send(PIXEL, TOKEN, _events(1))

    query = mock.request_history[0].qs
    if timed:
        proof, at = appsecret_proof_timed("app_secret", TOKEN, 1_700_000_000)
        assert query == {"appsecret_proof": [proof], "appsecret_time": [str(at)]}
    else:
        assert query == {"appsecret_proof": [appsecret_proof("app_secret", TOKEN)]}


def test_given_a_2xx_without_json_when_sent_then_delivered() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, text="ok", status_code=200)
        report = _client(clock).send(PIXEL, TOKEN, _events(1))

    assert report.complete and report.attempts[0].events_received is None


def test_given_a_2xx_with_an_error_body_when_sent_then_treated_as_an_error() -> None:
    clock = FakeClock()
    with requests_mock.Mocker() as mock:
        mock.post(URL, [{"status_code": 200, "json": {"error": {"code": 2, "message": "x"}}}, _ok(1)])
        report = _client(clock).send(PIXEL, TOKEN, _events(1))

    assert report.attempts[0].error_class is ErrorClass.TRANSIENT and report.complete


def test_given_no_events_when_sent_then_no_request() -> None:
    with requests_mock.Mocker() as mock:
        report = _client(FakeClock()).send(PIXEL, TOKEN, [])

    assert mock.call_count == 0 and report.outcomes == () and report.complete


@pytest.mark.parametrize(
    ("pixel_id", "token", "events", "message"),
    [
        ("12/../3", TOKEN, _events(1), "pixel_id must be 1-20 digits"),
        (PIXEL, "", _events(1), "access_token must be a non-empty string"),
        (PIXEL, TOKEN, [{"event_name": "x"}], "event at index 0 has no event_id"),
    ],
)
def test_given_bad_input_when_sent_then_value_error_before_any_request(
    pixel_id: str, token: str, events: list[dict[str, Any]], message: str
) -> None:
    with requests_mock.Mocker() as mock, pytest.raises(ValueError, match=message):
        _client(FakeClock()).send(pixel_id, token, events)
    assert mock.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch_size": 1001}, "max_batch_size"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_given_bad_settings_when_built_then_value_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _client(FakeClock(), **kwargs)


def test_given_a_bad_api_version_when_built_then_value_error() -> None:
    with pytest.raises(ValueError, match="api_version"):
        CapiEventsClient(BASE, "26.0")
