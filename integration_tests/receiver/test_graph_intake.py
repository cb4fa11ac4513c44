"""The Graph-compatible intake with clients no one here wrote: Meta's `facebook-business` SDK
(26.0.3, `EventRequest(...).execute()` with its Graph URL pointed at the receiver) and plain HTTP
posts of Meta's documented example body, through a real uvicorn on 127.0.0.1 to the Graph
stand-in and back into the source (a sync with the real CDK entrypoint reading the bucket)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.event_request_async import EventRequestAsync
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from integration_tests.receiver.conftest import PIXEL, TOKEN, Receiver
from integration_tests.support.graph_stand_in import GraphStandIn
from integration_tests.support.push_harness import records, sync
from source_meta_capi.capi.appsecret_proof import appsecret_proof, appsecret_proof_timed
from source_meta_capi.staging.keys import ObjectKind

APP_SECRET = "receiver-app-secret"
OTHER_PIXEL = "9876543210"
OTHER_TOKEN = "other-pixel-token"
# Fact sheet §2.5, Meta's documented web Purchase (hashes already applied); event_time is set per test.
EXAMPLE_BODY: dict[str, Any] = {
    "data": [
        {
            "event_name": "Purchase",
            "event_time": 1764150000,
            "event_id": "order-10023",
            "action_source": "website",
            "event_source_url": "https://shop.example.com/checkout/thank-you",
            "referrer_url": "https://shop.example.com/checkout",
            "user_data": {
                "em": ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"],
                "ph": ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
                "fn": ["78675cc176081372c43abab3ea9fb70c74381eb02dc6e93fb6d44d161da6eeb3"],
                "ln": ["6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"],
                "ct": ["0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"],
                "st": ["6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"],
                "zp": ["b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"],
                "country": ["79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"],
                "external_id": ["e606e38b0d8c19b24cf0ee3808183162ea7cd63ff7912dbb22b5e803286b4446"],
                "client_ip_address": "2001:db8::7",
                "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
                "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
                "fbp": "fb.1.1764000000456.1098115397",
            },
            "custom_data": {
                "currency": "USD",
                "value": 123.45,
                "order_id": "10023",
                "content_type": "product",
                "content_ids": ["SKU-1"],
                "contents": [
                    {"id": "SKU-1", "quantity": 1, "item_price": 123.45, "delivery_category": "home_delivery"}
                ],
                "num_items": 1,
                "customer_segmentation": "new_customer_to_business",
            },
            "data_processing_options": [],
        }
    ],
    "partner_agent": "ourconnector_1_0",
}


def example_body(event_id: str = "order-10023") -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE_BODY)
    body["data"][0].update(event_time=int(time.time()) - 60, event_id=event_id)
    return body


def sdk_event(event_id: str, *, event_time: int | None = None, email: str = "Joe@Example.com") -> Event:
    """An event built with the SDK's own model (it hashes user data itself)."""
    return Event(
        event_name="Purchase",
        event_time=event_time or int(time.time()) - 30,
        event_id=event_id,
        action_source=ActionSource.WEBSITE,
        event_source_url="https://shop.example.com/checkout/thank-you",
        user_data=UserData(email=email, client_ip_address="203.0.113.9", client_user_agent="Mozilla/5.0"),
        custom_data=CustomData(currency="usd", value=42.5),
    )


@pytest.fixture
def sdk(monkeypatch) -> Iterator[Any]:
    """Point Meta's SDK at a base URL: `sdk(url, token, app_secret)` initializes the default API."""

    def point(base_url: str, token: str = TOKEN, app_secret: str | None = APP_SECRET) -> FacebookAdsApi:
        # The SDK documents FacebookSession.GRAPH as the Graph base URL: the one line a sender changes.
        monkeypatch.setattr(FacebookSession, "GRAPH", base_url)
        # crash_log=False: the SDK would otherwise report exceptions to Meta.
        return FacebookAdsApi.init(access_token=token, app_secret=app_secret, crash_log=False)

    yield point
    FacebookAdsApi.set_default_api(None)


def graph_receiver(make_receiver: Any, graph: Any = None, **overrides: Any) -> Receiver:
    fields: dict[str, Any] = {
        "access_tokens": {PIXEL: TOKEN, OTHER_PIXEL: OTHER_TOKEN},
        "app_secret": APP_SECRET,
        "pixel_ids": frozenset({PIXEL, OTHER_PIXEL}),
    }
    fields.update(overrides)
    return make_receiver(graph=graph, **fields)


def test_given_sdk_event_request_when_executed_then_staged_forwarded_and_synced(make_receiver, graph, sdk) -> None:
    receiver = graph_receiver(make_receiver, graph, forward_mode="background")
    sent: list[requests.PreparedRequest] = []
    sdk(receiver.url)._session.requests.hooks["response"].append(lambda answer, **_: sent.append(answer.request))
    too_old = int(time.time()) - 9 * 86400
    events = [
        sdk_event("sdk-1"),
        sdk_event("sdk-2", email="mary@example.com"),
        sdk_event("sdk-old", event_time=too_old),
    ]
    response = EventRequest(pixel_id=PIXEL, events=events, partner_agent="mytagmanager_2_1").execute()

    assert response.events_received == 2
    assert len(response.messages) == 1 and "sdk-old" in response.messages[0] and "event_time" in response.messages[0]
    assert response.fbtrace_id
    # What the SDK sent (read in its source, checked here): a form POST to /v26.0/{pixel}/events,
    # the token and the classic proof in the query, `data` a JSON array of JSON strings.
    [request] = sent
    url = urlsplit(request.url or "")
    assert (request.method, url.path) == ("POST", f"/v26.0/{PIXEL}/events")
    assert dict(parse_qsl(url.query)) == {"access_token": TOKEN, "appsecret_proof": appsecret_proof(APP_SECRET, TOKEN)}
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == "fbbizsdk-python-v26.0.3"
    form = dict(parse_qsl(str(request.body)))
    assert form["partner_agent"] == "mytagmanager_2_1"
    assert [json.loads(element)["event_id"] for element in json.loads(form["data"])] == ["sdk-1", "sdk-2", "sdk-old"]
    assert receiver.runtime.background is not None and receiver.runtime.background.wait_idle(15)
    assert sorted(graph.received_event_ids(PIXEL)) == ["sdk-1", "sdk-2"]

    config = {
        "pixels": [{"pixel_id": PIXEL}],
        "staging": {"bucket_url": receiver.runtime.store.url, "settle_seconds": 0},
    }
    output = sync(config)
    staged = records(output, "delivered_events")
    assert sorted(e["event_id"] for e in staged) == ["sdk-1", "sdk-2"]
    assert {e["signature_status"] for e in staged} == {"verified:access_token+appsecret_proof"}
    assert {e["partner_agent"] for e in staged} == {"mytagmanager_2_1"}
    assert {e["request_id"] for e in staged} == {response.fbtrace_id}
    delivered = {i for s in records(output, "delivery_statuses") if s["outcome"] == "delivered" for i in s["event_ids"]}
    assert delivered == {"sdk-1", "sdk-2"}
    assert [(dl["event_id"], dl["stage"]) for dl in records(output, "dead_letters")] == [("sdk-old", "intake")]
    everything = json.dumps(staged)
    assert TOKEN not in everything and "Joe@Example.com" not in everything and APP_SECRET not in everything


def test_given_sdk_async_event_request_when_executed_then_staged(make_receiver, sdk) -> None:
    # EventRequestAsync (aiohttp) sends differently: token and proof in the form body, `data` one
    # JSON array of event objects.
    receiver = graph_receiver(make_receiver)
    sdk(receiver.url)
    request = EventRequestAsync(pixel_id=PIXEL, events=[sdk_event("async-1"), sdk_event("async-2")])
    response = asyncio.run(request.execute())
    assert (response.events_received, response.messages) == (2, [])
    staged = receiver.records(ObjectKind.EVENTS)
    assert sorted(e["event_id"] for e in staged) == ["async-1", "async-2"]
    assert {e["signature_status"] for e in staged} == {"verified:access_token+appsecret_proof"}


def test_given_sdk_with_wrong_token_bad_proof_or_other_pixel_when_executed_then_meta_errors(make_receiver, sdk) -> None:
    receiver = graph_receiver(make_receiver)
    sdk(receiver.url, token="not-a-configured-token")
    with pytest.raises(FacebookRequestError) as wrong_token:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("x1")]).execute()
    assert wrong_token.value.api_error_code() == 190 and wrong_token.value.http_status() == 400
    assert wrong_token.value.api_error_type() == "OAuthException"

    sdk(receiver.url, app_secret="another-apps-secret")
    with pytest.raises(FacebookRequestError) as bad_proof:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("x2")]).execute()
    # Meta answers a wrong proof with code 100 (GraphMethodException), not 190.
    assert bad_proof.value.api_error_code() == 100
    assert bad_proof.value.api_error_message() == "Invalid appsecret_proof provided in the API argument"

    sdk(receiver.url, app_secret=None)
    with pytest.raises(FacebookRequestError) as no_proof:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("x3")]).execute()
    assert no_proof.value.api_error_code() == 100 and "appsecret_proof" in no_proof.value.api_error_message()

    sdk(receiver.url, token=OTHER_TOKEN)
    with pytest.raises(FacebookRequestError) as other_pixel:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("x4")]).execute()
    assert (other_pixel.value.api_error_code(), other_pixel.value.api_error_subcode()) == (100, 33)

    assert receiver.records(ObjectKind.EVENTS) == [] and receiver.records(ObjectKind.DEAD_LETTERS) == []


def test_given_sdk_batch_with_only_invalid_events_when_executed_then_400_code_100_and_dead_lettered(
    make_receiver, sdk
) -> None:
    receiver = graph_receiver(make_receiver)
    sdk(receiver.url)
    with pytest.raises(FacebookRequestError) as refused:
        EventRequest(pixel_id=PIXEL, events=[sdk_event("old-1", event_time=int(time.time()) - 9 * 86400)]).execute()
    error = refused.value
    assert (error.http_status(), error.api_error_code()) == (400, 100)
    assert "old-1" in error.body()["error"]["error_user_msg"]
    assert [letter["event_id"] for letter in receiver.records(ObjectKind.DEAD_LETTERS)] == ["old-1"]


@pytest.mark.parametrize("form", ["json_bearer", "form_body_token", "multipart_query_token", "unversioned_json"])
def test_given_metas_example_body_when_posted_plainly_then_meta_answer(make_receiver, form: str) -> None:
    receiver = graph_receiver(make_receiver, app_secret=None)
    body = example_body(f"example-{form}")
    url = f"{receiver.url}/v26.0/{PIXEL}/events"
    if form == "json_bearer":
        answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    elif form == "form_body_token":
        fields = {"data": json.dumps(body["data"]), "partner_agent": body["partner_agent"], "access_token": TOKEN}
        answer = requests.post(url, data=fields, timeout=10)
    elif form == "multipart_query_token":
        # Meta's curl example: -F 'data=[...]' (multipart/form-data), the token in the query.
        parts = {"data": (None, json.dumps(body["data"])), "partner_agent": (None, body["partner_agent"])}
        answer = requests.post(url, files=parts, params={"access_token": TOKEN}, timeout=10)
    else:
        answer = requests.post(f"{receiver.url}/{PIXEL}/events", json={**body, "access_token": TOKEN}, timeout=10)
    assert answer.status_code == 200, answer.text
    reply = answer.json()
    assert reply == {"events_received": 1, "messages": [], "fbtrace_id": answer.headers["x-request-id"]}
    [staged] = receiver.records(ObjectKind.EVENTS)
    assert staged["event_id"] == f"example-{form}"
    assert staged["user_data"]["em"] == EXAMPLE_BODY["data"][0]["user_data"]["em"]
    assert staged["signature_status"] == "verified:access_token"


CONFORMANCE_CASES = {
    "valid": {"access_token": TOKEN, "appsecret_proof": appsecret_proof(APP_SECRET, TOKEN)},
    "no token": {},
    "wrong token": {"access_token": "wrong", "appsecret_proof": appsecret_proof(APP_SECRET, "wrong")},
    "no proof": {"access_token": TOKEN},
    "bad proof": {"access_token": TOKEN, "appsecret_proof": appsecret_proof("other", TOKEN)},
    "stale proof": {
        "access_token": TOKEN,
        "appsecret_proof": appsecret_proof_timed(APP_SECRET, TOKEN, int(time.time()) - 900)[0],
        "appsecret_time": str(int(time.time()) - 900),
    },
}


@pytest.mark.parametrize("case", sorted(CONFORMANCE_CASES))
@pytest.mark.parametrize("pixel", [PIXEL, "5555"])
def test_given_same_request_when_sent_to_graph_stand_in_and_receiver_then_same_status_and_codes(
    make_receiver, case: str, pixel: str
) -> None:
    receiver = graph_receiver(make_receiver, access_tokens={PIXEL: TOKEN}, pixel_ids=frozenset())
    with GraphStandIn(access_token=TOKEN, pixels=[PIXEL], app_secret=APP_SECRET) as meta:
        answers = [
            requests.post(
                f"{base}/v26.0/{pixel}/events", json=example_body(), params=CONFORMANCE_CASES[case], timeout=10
            )
            for base in (meta.base_url, receiver.url)
        ]

    def codes(answer: requests.Response) -> tuple[Any, ...]:
        error = answer.json().get("error") or {}
        return answer.status_code, error.get("code"), error.get("error_subcode"), answer.json().get("events_received")

    assert codes(answers[1]) == codes(answers[0])


def test_given_time_stamped_proof_when_posted_then_accepted_and_stale_one_refused(make_receiver) -> None:
    receiver = graph_receiver(make_receiver)
    url = f"{receiver.url}/v26.0/{PIXEL}/events"
    now = int(time.time())
    proof, at = appsecret_proof_timed(APP_SECRET, TOKEN, now)
    fresh = requests.post(
        url, json=example_body("timed"), params={"access_token": TOKEN, "appsecret_proof": proof, "appsecret_time": at}
    )
    assert fresh.status_code == 200 and fresh.json()["events_received"] == 1
    stale_proof, stale_at = appsecret_proof_timed(APP_SECRET, TOKEN, now - 600)
    stale = requests.post(
        url,
        json=example_body("stale"),
        params={"access_token": TOKEN, "appsecret_proof": stale_proof, "appsecret_time": stale_at},
    )
    assert stale.status_code == 400 and stale.json()["error"]["code"] == 100
    classic = requests.post(
        url,
        json=example_body("classic"),
        params={"access_token": TOKEN, "appsecret_proof": appsecret_proof(APP_SECRET, TOKEN)},
    )
    assert classic.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b'{"data": [', "application/json", "body"),
        (b'{"partner_agent": "x"}', "application/json", "data"),
        (b'{"data": []}', "application/json", "data"),
        (b"data=not-json", "application/x-www-form-urlencoded", "data"),
        (b"<xml/>", "text/xml", "content-type"),
    ],
)
def test_given_unusable_body_when_posted_then_meta_shaped_400(
    make_receiver, body: bytes, content_type: str, field: str
) -> None:
    receiver = graph_receiver(make_receiver, app_secret=None)
    answer = requests.post(
        f"{receiver.url}/v26.0/{PIXEL}/events",
        data=body,
        headers={"content-type": content_type, "authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == 100 and error["type"] == "OAuthException" and error["fbtrace_id"]
    assert receiver.records(ObjectKind.EVENTS) == []


def test_given_body_over_the_limit_or_bad_path_when_posted_then_meta_shaped_errors(make_receiver) -> None:
    receiver = graph_receiver(make_receiver, app_secret=None, max_body_bytes=2048)
    headers = {"authorization": f"Bearer {TOKEN}"}
    too_large = requests.post(f"{receiver.url}/v26.0/{PIXEL}/events", data=b"x" * 4096, headers=headers, timeout=10)
    assert too_large.status_code == 400 and too_large.json()["error"]["code"] == 100
    bad_version = requests.post(f"{receiver.url}/latest/{PIXEL}/events", json=example_body(), headers=headers)
    assert bad_version.status_code == 400 and bad_version.json()["error"]["code"] == 2500
    not_a_pixel = requests.post(f"{receiver.url}/v26.0/me/events", json=example_body(), headers=headers)
    assert not_a_pixel.json()["error"]["error_subcode"] == 33
    # A valid token used on a pixel it does not belong to: Meta's 100/33, as for an unknown pixel.
    other = requests.post(f"{receiver.url}/v26.0/5555/events", json=example_body(), headers=headers)
    assert (other.status_code, other.json()["error"]["code"], other.json()["error"]["error_subcode"]) == (400, 100, 33)
    conflicting = requests.post(
        f"{receiver.url}/v26.0/{PIXEL}/events", json=example_body(), headers=headers, params={"access_token": "x"}
    )
    assert conflicting.json()["error"]["code"] == 100


def test_given_wrong_token_outside_the_body_when_posted_then_refused_before_parsing(make_receiver) -> None:
    receiver = graph_receiver(make_receiver, app_secret=None)
    url = f"{receiver.url}/v26.0/{PIXEL}/events"
    in_query = requests.post(url, data=b"{not json", params={"access_token": "wrong"}, timeout=10)
    in_header = requests.post(url, data=b"{not json", headers={"authorization": "Bearer wrong"}, timeout=10)
    assert in_query.json()["error"]["code"] == in_header.json()["error"]["code"] == 190
    # A good token outside the body, a different one inside: refused, whichever would pass.
    mixed = requests.post(url, json={**example_body(), "access_token": "wrong"}, params={"access_token": TOKEN})
    assert mixed.status_code == 400 and "more than once" in mixed.json()["error"]["message"]


def test_given_token_in_query_when_refused_then_logs_never_carry_it(make_receiver, caplog) -> None:
    receiver = graph_receiver(make_receiver)
    secret_token = "EAAB-never-logged-token"
    with caplog.at_level("DEBUG"):
        requests.post(
            f"{receiver.url}/v26.0/{PIXEL}/events", json=example_body(), params={"access_token": secret_token}
        )
        requests.post(f"{receiver.url}/v26.0/{PIXEL}/events", json=example_body(), params={"access_token": TOKEN})
    # The server's loggers only (the test's own HTTP client logs the URL it calls).
    ours = [r for r in caplog.records if r.name.startswith(("meta_capi_receiver", "uvicorn", "starlette"))]
    text = "\n".join(record.getMessage() + json.dumps(getattr(record, "ctx", {})) for record in ours)
    assert "graph request refused" in text
    assert secret_token not in text and TOKEN not in text and APP_SECRET not in text
