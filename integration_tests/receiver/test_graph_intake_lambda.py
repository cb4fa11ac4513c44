"""The Graph-compatible intake through the Lambda handler: Meta's `facebook-business` SDK sends
its real request, which a requests adapter turns into an API Gateway REST (v1) or HTTP API (v2)
event for `lambda_handler.handler` (Mangum), forwarding inline to the Graph stand-in, then the
source syncs the bucket."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession
from requests.adapters import BaseAdapter

from integration_tests.receiver.conftest import PIXEL, TOKEN
from integration_tests.receiver.test_graph_intake import APP_SECRET, sdk_event
from integration_tests.support.graph_stand_in import GraphStandIn
from integration_tests.support.push_harness import records, sync
from source_meta_capi.receiver import json_logging, lambda_handler
from source_meta_capi.staging.open_store import open_store

LAMBDA_BASE = "https://receiver.execute-api.test"


def v1_event(request: requests.PreparedRequest) -> dict[str, Any]:
    """An API Gateway REST proxy event as the template's routes produce it (stage excluded from `path`)."""
    url = urlsplit(request.url or "")
    query = parse_qsl(url.query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for name, value in query:
        multi.setdefault(name, []).append(value)
    headers = {name: str(value) for name, value in request.headers.items()}
    segments = url.path.strip("/").split("/")
    resource = "/{node}/{pixel_id}/events" if len(segments) == 3 else "/{node}/events"
    return {
        "resource": resource,
        "path": url.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": dict(zip(("node", "pixel_id"), segments[:-1], strict=False)),
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": f"/prod{url.path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": headers.get("User-Agent", "")},
            "domainName": "receiver.execute-api.test",
            "apiId": "receiver",
        },
        "body": base64.b64encode(_body(request)).decode(),
        "isBase64Encoded": True,
    }


def v2_event(request: requests.PreparedRequest) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    url = urlsplit(request.url or "")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": {name.lower(): str(value) for name, value in request.headers.items()},
        "requestContext": {
            "apiId": "receiver",
            "domainName": "receiver.execute-api.test",
            "http": {"method": request.method, "path": url.path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": base64.b64encode(_body(request)).decode(),
        "isBase64Encoded": True,
    }


def _body(request: requests.PreparedRequest) -> bytes:
    body = request.body or b""
    return body.encode() if isinstance(body, str) else body


class LambdaAdapter(BaseAdapter):
    """A requests transport that invokes the Lambda handler instead of opening a socket."""

    def __init__(self, shape: Callable[[requests.PreparedRequest], dict[str, Any]]) -> None:
        super().__init__()
        self.shape = shape

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        result = lambda_handler.handler(self.shape(request), None)
        response = requests.Response()
        response.status_code = result["statusCode"]
        response.headers.update(result.get("headers") or {})
        body = result.get("body") or ""
        response._content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def lambda_graph_env(tmp_path, monkeypatch, request) -> Iterator[tuple[str, GraphStandIn]]:
    bucket = tmp_path / "bucket"
    # The handler's cold start configures JSON logging process-wide; later tests expect it untouched.
    loggers = [logging.getLogger(name) for name in (json_logging.LOGGER_NAME, "uvicorn", "uvicorn.error")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    request.addfinalizer(lambda: _restore(loggers, saved))
    with GraphStandIn(access_token=TOKEN, pixels=[PIXEL]) as graph:
        for name, value in {
            "AWS_LAMBDA_FUNCTION_NAME": "meta-capi-receiver",
            "META_CAPI_STAGING_URL": str(bucket),
            "META_CAPI_ACCESS_TOKENS": f"{PIXEL}={TOKEN}",
            "META_CAPI_APP_SECRET": APP_SECRET,
            "META_CAPI_GRAPH_BASE_URL": graph.base_url,
            "META_CAPI_FORWARD_MODE": "auto",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(lambda_handler, "_handler", None)
        yield open_store(str(bucket)).url, graph
        handler = lambda_handler._handler
        runtime = getattr(getattr(getattr(handler, "app", None), "state", None), "runtime", None)
        if runtime is not None:
            runtime.close()
        monkeypatch.setattr(lambda_handler, "_handler", None)


def _restore(loggers: list[logging.Logger], saved: list[tuple[list[logging.Handler], int, bool]]) -> None:
    for target, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        target.handlers[:] = handlers
        target.setLevel(level)
        target.propagate = propagate


@pytest.fixture
def lambda_sdk(monkeypatch) -> Iterator[Callable[..., FacebookAdsApi]]:
    def point(shape: Callable[..., dict[str, Any]], token: str = TOKEN) -> FacebookAdsApi:
        monkeypatch.setattr(FacebookSession, "GRAPH", LAMBDA_BASE)
        api = FacebookAdsApi.init(access_token=token, app_secret=APP_SECRET, crash_log=False)
        api._session.requests.mount(LAMBDA_BASE, LambdaAdapter(shape))
        return api

    yield point
    FacebookAdsApi.set_default_api(None)


@pytest.mark.parametrize("shape", [v1_event, v2_event])
def test_given_sdk_through_lambda_when_executed_then_staged_forwarded_inline_and_synced(
    lambda_graph_env, lambda_sdk, shape
) -> None:
    bucket_url, graph = lambda_graph_env
    lambda_sdk(shape)
    too_old = int(time.time()) - 9 * 86400
    events = [sdk_event(f"lambda-{shape.__name__}"), sdk_event("lambda-old", event_time=too_old)]
    response = EventRequest(pixel_id=PIXEL, events=events).execute()
    assert response.events_received == 1 and len(response.messages) == 1 and "lambda-old" in response.messages[0]
    # Inline on Lambda: delivered before the answer.
    assert graph.received_event_ids(PIXEL) == [f"lambda-{shape.__name__}"]
    output = sync({"pixels": [{"pixel_id": PIXEL}], "staging": {"bucket_url": bucket_url, "settle_seconds": 0}})
    assert [e["event_id"] for e in records(output, "delivered_events")] == [f"lambda-{shape.__name__}"]
    assert [dl["event_id"] for dl in records(output, "dead_letters")] == ["lambda-old"]


@pytest.mark.parametrize("shape", [v1_event, v2_event])
def test_given_sdk_with_wrong_token_through_lambda_when_executed_then_code_190(
    lambda_graph_env, lambda_sdk, shape
) -> None:
    lambda_sdk(shape, token="wrong-token")
    with pytest.raises(FacebookRequestError) as refused:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("never")]).execute()
    assert (refused.value.http_status(), refused.value.api_error_code()) == (400, 190)
