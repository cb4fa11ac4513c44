"""The custom components in isolation: proof, paging guard, backoff, error classification."""

from __future__ import annotations

import json

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_meta_capi.components import (
    GraphApiAuthenticator,
    GraphApiErrorHandler,
    GraphNextPageStrategy,
    GraphUsageBackoffStrategy,
)

from .config import ACCESS_TOKEN, ConfigBuilder


def _response(
    status: int,
    body: object,
    url: str = "https://graph.facebook.com/v26.0/42/stats?aggregation=event",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response.headers.update(headers or {})
    response.request = requests.Request("GET", url).prepare()
    response.url = url
    return response


def _error(code: int, subcode: int | None = None, **extra: object) -> dict[str, object]:
    return {"error": {"message": "m", "code": code, **({"error_subcode": subcode} if subcode else {}), **extra}}


class TestGraphApiAuthenticator:
    def test_given_fact_sheet_vectors_when_proof_then_matches(self, monkeypatch: pytest.MonkeyPatch) -> None:
        config = {
            "credentials": {
                "auth_type": "app_credentials",
                "app_secret": "app_secret",
                "access_token": "EAAB-token",
                "use_appsecret_time": False,
            }
        }
        assert GraphApiAuthenticator(config=config, parameters={}).proof_params() == {
            "appsecret_proof": "d5503592ed9effbf7f97bcd8a592fa7a151e7390cb008e13307cc0aac1eb2181"
        }
        monkeypatch.setattr("source_meta_capi.components._unix_time", lambda: 1700000000)
        config["credentials"]["use_appsecret_time"] = True  # type: ignore[index]
        assert GraphApiAuthenticator(config=config, parameters={}).proof_params() == {
            "appsecret_proof": "3485b85fba1f762f74e8e9ae9bd86f48b7ae4c0c3877875ac550034f53f87da0",
            "appsecret_time": "1700000000",
        }

    def test_given_url_with_stale_proof_when_called_then_replaced_once(self) -> None:
        auth = GraphApiAuthenticator(config=ConfigBuilder().with_app_credentials().build(), parameters={})
        request = requests.Request(
            "GET", "https://graph.facebook.com/v26.0/42/stats?after=X&appsecret_proof=old&appsecret_time=1"
        ).prepare()

        auth(request)

        assert request.url is not None
        assert request.url.count("appsecret_proof=") == 1 and "appsecret_proof=old" not in request.url
        assert "after=X" in request.url
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert ACCESS_TOKEN not in request.url

    def test_given_no_token_when_header_then_config_error(self) -> None:
        auth = GraphApiAuthenticator(config={"pixels": []}, parameters={})
        with pytest.raises(AirbyteTracedException) as raised:
            auth.get_auth_header()
        assert raised.value.failure_type == FailureType.config_error


class TestGraphNextPageStrategy:
    @pytest.mark.parametrize(
        ("base_url", "next_url", "follows"),
        [
            ("https://graph.facebook.com", "https://graph.facebook.com/v26.0/42/stats?after=A", True),
            ("https://graph.facebook.com/", "https://GRAPH.facebook.com:443/v26.0/42/stats?after=A", True),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v26.0/42/stats?after=A", True),
            ("http://127.0.0.1:8080", "http://127.0.0.1:9090/v26.0/42/stats?after=A", False),
            ("https://graph.facebook.com", "http://graph.facebook.com/v26.0/42/stats", False),
            ("https://graph.facebook.com", "https://graph.facebook.com.evil.example/x", False),
        ],
    )
    def test_given_next_link_when_paging_then_followed_only_to_configured_host(
        self, base_url: str, next_url: str, follows: bool
    ) -> None:
        strategy = GraphNextPageStrategy(config=ConfigBuilder().with_base_url(base_url).build(), parameters={})
        response = _response(200, {"data": [], "paging": {"next": next_url}})
        if follows:
            assert strategy.next_page_token(response, 0, None, None) == next_url
        else:
            with pytest.raises(AirbyteTracedException):
                strategy.next_page_token(response, 0, None, None)

    def test_given_no_next_when_paging_then_last_page(self) -> None:
        strategy = GraphNextPageStrategy(config=ConfigBuilder().build(), parameters={})
        assert strategy.next_page_token(_response(200, {"data": [], "paging": {"cursors": {}}}), 0, None, None) is None


class TestGraphUsageBackoffStrategy:
    def test_given_regain_minutes_when_backoff_then_waits_that_long(self) -> None:
        usage = {
            "X-Business-Use-Case-Usage": json.dumps(
                {"1": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 3}]}
            )
        }
        strategy = GraphUsageBackoffStrategy(config={}, parameters={})
        assert strategy.backoff_time(_response(400, _error(80004), headers=usage), 1) == 180.0

    def test_given_transient_error_when_backoff_then_jittered_and_growing(self) -> None:
        strategy = GraphUsageBackoffStrategy(config={}, parameters={})
        waits = [strategy.backoff_time(_response(503, _error(2)), attempt) for attempt in (1, 2, 3)]
        assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4  # type: ignore[operator]

    def test_given_connection_error_when_backoff_then_transient_wait(self) -> None:
        strategy = GraphUsageBackoffStrategy(config={}, parameters={})
        assert 0.5 <= strategy.backoff_time(requests.ConnectionError("reset"), 1) <= 1  # type: ignore[operator]


class TestGraphApiErrorHandler:
    @pytest.fixture
    def handler(self) -> GraphApiErrorHandler:
        return GraphApiErrorHandler(config=ConfigBuilder().build(), parameters={})

    @pytest.mark.parametrize(
        ("status", "body", "action"),
        [
            (400, _error(4), ResponseAction.RATE_LIMITED),
            (400, _error(17, 2446079), ResponseAction.RATE_LIMITED),
            (400, _error(32), ResponseAction.RATE_LIMITED),
            (400, _error(341), ResponseAction.RATE_LIMITED),
            (400, _error(613, 1487742), ResponseAction.RATE_LIMITED),
            (400, _error(80000), ResponseAction.RATE_LIMITED),
            (400, _error(80014), ResponseAction.RATE_LIMITED),
            (429, {}, ResponseAction.RATE_LIMITED),
            (500, _error(1), ResponseAction.RETRY),
            (503, _error(2), ResponseAction.RETRY),
            (400, _error(100, 99, is_transient=True), ResponseAction.RETRY),
            (500, {}, ResponseAction.RETRY),
            (502, "<html><body>Bad gateway</body></html>", ResponseAction.RETRY),
            (200, "<!DOCTYPE html><html></html>", ResponseAction.RETRY),
            (200, {"data": []}, ResponseAction.SUCCESS),
            (200, {}, ResponseAction.SUCCESS),
        ],
    )
    def test_given_response_when_interpreted_then_action(
        self, handler: GraphApiErrorHandler, status: int, body: object, action: ResponseAction
    ) -> None:
        assert handler.interpret_response(_response(status, body)).response_action == action

    @pytest.mark.parametrize(
        ("body", "failure_type"),
        [
            (_error(190, 463), FailureType.config_error),
            (_error(190), FailureType.config_error),
            (_error(102), FailureType.config_error),
            (_error(10), FailureType.config_error),
            (_error(200), FailureType.config_error),
            (_error(299), FailureType.config_error),
            (_error(100, 33), FailureType.config_error),
            (_error(100), FailureType.config_error),
            (_error(2500), FailureType.system_error),
        ],
    )
    def test_given_fatal_graph_error_when_interpreted_then_raises_naming_pixel(
        self, handler: GraphApiErrorHandler, body: dict[str, object], failure_type: FailureType
    ) -> None:
        body["error"]["message"] = f"Invalid OAuth access token {ACCESS_TOKEN}"  # type: ignore[index]
        with pytest.raises(AirbyteTracedException) as raised:
            handler.interpret_response(_response(400, body))
        assert raised.value.failure_type == failure_type
        assert "pixel 42" in (raised.value.message or "")
        assert ACCESS_TOKEN not in f"{raised.value.message} {raised.value.internal_message}"

    def test_given_dataset_quality_request_when_error_then_pixel_read_from_query(
        self, handler: GraphApiErrorHandler
    ) -> None:
        url = "https://graph.facebook.com/v26.0/dataset_quality?dataset_id=777&fields=web%7Bevent_name%7D"
        with pytest.raises(AirbyteTracedException) as raised:
            handler.interpret_response(_response(400, _error(100, 33), url=url))
        assert "pixel 777" in (raised.value.message or "")

    def test_given_timeout_when_interpreted_then_retried(self, handler: GraphApiErrorHandler) -> None:
        assert handler.interpret_response(requests.ReadTimeout("slow")).response_action == ResponseAction.RETRY
