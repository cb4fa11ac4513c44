"""The Graph stand-in's read routes and auth answer like Meta (fact sheet §7.4, §8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from integration_tests.support.graph_stand_in import DEFAULT_PIXEL_ID, PIXEL, STATS, GraphStandIn
from integration_tests.support.graph_stand_in.responses import graph_error
from source_meta_capi.capi.appsecret_proof import appsecret_proof

TOKEN = "tok"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(access_token=TOKEN, page_size=2) as stand_in:
        yield stand_in


def _get(graph: GraphStandIn, path: str, **params: Any) -> tuple[int, Any]:
    response = requests.get(f"{graph.base_url}{path}", params=params, headers=AUTH, timeout=5)
    return response.status_code, response.json()


def test_given_hourly_buckets_when_paged_then_next_links_walk_every_bucket_in_range(graph: GraphStandIn) -> None:
    hours = [
        {"start_time": f"2026-11-25T{h:02d}:00:00+0000", "data": [{"value": "Purchase", "count": h}]} for h in range(6)
    ]
    graph.add_stats(DEFAULT_PIXEL_ID, "event", hours)
    url: str | None = (
        f"{graph.base_url}/v26.0/{DEFAULT_PIXEL_ID}/stats?aggregation=event&start_time=2026-11-25T01:00:00%2B0000&end_time=1795586400"
    )
    seen: list[int] = []
    while url:
        body = requests.get(url, headers=AUTH, timeout=5).json()
        seen.extend(bucket["data"][0]["count"] for bucket in body["data"])
        url = body.get("paging", {}).get("next")
        assert url is None or url.startswith(graph.base_url)

    assert seen == [1, 2, 3, 4, 5]
    assert len(graph.requests_to(STATS)) == 3


def test_given_a_bad_aggregation_when_read_then_error_100(graph: GraphStandIn) -> None:
    status, body = _get(graph, f"/v26.0/{DEFAULT_PIXEL_ID}/stats", aggregation="nope")

    assert (status, body["error"]["code"]) == (400, 100)
    assert "aggregation must be one of" in body["error"]["message"]


def test_given_pixel_fields_when_read_then_projected_and_unknown_fields_refused(graph: GraphStandIn) -> None:
    graph.add_pixel("42", name="Shop", last_fired_time="2026-11-26T05:59:12+0000", is_unavailable=False)

    assert _get(graph, "/v26.0/42", fields="name,last_fired_time") == (
        200,
        {"id": "42", "name": "Shop", "last_fired_time": "2026-11-26T05:59:12+0000"},
    )
    status, body = _get(graph, "/v26.0/42", fields="name,bogus")
    assert (status, body["error"]["code"]) == (400, 100)
    assert _get(graph, "/v26.0/43")[1]["error"]["error_subcode"] == 33


def test_given_dataset_quality_when_read_then_top_level_node_only(graph: GraphStandIn) -> None:
    web = [{"event_name": "Purchase", "event_match_quality": {"composite_score": 7.2, "diagnostics": []}}]
    graph.set_dataset_quality(DEFAULT_PIXEL_ID, web)
    fields = "web{event_name,event_match_quality{composite_score}}"

    assert _get(graph, "/v26.0/dataset_quality", dataset_id=DEFAULT_PIXEL_ID, fields=fields) == (
        200,
        {"web": [{"event_name": "Purchase", "event_match_quality": {"composite_score": 7.2}}]},
    )
    graph.set_dataset_quality(DEFAULT_PIXEL_ID, None)
    assert _get(graph, "/v26.0/dataset_quality", dataset_id=DEFAULT_PIXEL_ID, fields=fields) == (200, {})
    status, body = _get(graph, f"/v26.0/{DEFAULT_PIXEL_ID}/dataset_quality", fields=fields)
    assert (status, body["error"]["code"]) == (400, 2500)


def test_given_tokens_when_checked_then_missing_invalid_and_expired_answer_like_graph() -> None:
    with GraphStandIn(access_token=TOKEN, expired_tokens={"old"}) as graph:
        url = f"{graph.base_url}/v26.0/{DEFAULT_PIXEL_ID}"
        codes = [
            requests.get(url, timeout=5).json()["error"]["code"],
            requests.get(url, params={"access_token": "wrong"}, timeout=5).json()["error"]["code"],
            requests.get(url, headers={"Authorization": "Bearer old"}, timeout=5).json()["error"]["error_subcode"],
            requests.get(url, params={"access_token": TOKEN}, timeout=5).status_code,
        ]

    assert codes == [104, 190, 463, 200]


def test_given_an_app_secret_when_checked_then_the_classic_proof_is_required() -> None:
    with GraphStandIn(access_token=TOKEN, app_secret="s3") as graph:
        url = f"{graph.base_url}/v26.0/{DEFAULT_PIXEL_ID}"
        missing = requests.get(url, headers=AUTH, timeout=5).json()["error"]["message"]
        good = requests.get(url, headers=AUTH, params={"appsecret_proof": appsecret_proof("s3", TOKEN)}, timeout=5)

    assert "require an appsecret_proof" in missing and good.status_code == 200


def test_given_scripted_faults_when_requested_then_answered_in_order_then_normal(graph: GraphStandIn) -> None:
    graph.enqueue(PIXEL, graph_error(17, status=400), graph_error(2, status=503))

    statuses = [_get(graph, f"/v26.0/{DEFAULT_PIXEL_ID}")[0] for _ in range(3)]

    assert statuses == [400, 503, 200]
