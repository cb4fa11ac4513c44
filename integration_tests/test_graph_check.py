"""`check` in pull mode against the Graph API stand-in on 127.0.0.1."""

from __future__ import annotations

import logging
from typing import Any

from airbyte_cdk.models import Status

from integration_tests.support.graph_stand_in import PIXEL, GraphStandIn
from integration_tests.support.graph_stand_in.responses import server_error
from source_meta_capi.source import SourceMetaCapi

TOKEN = "EAAB-check-token-value"
SECRET = "app-secret-value"


def config(graph: GraphStandIn, pixels: list[str], token: str = TOKEN, **credentials: Any) -> dict[str, Any]:
    return {
        "pixels": [{"pixel_id": p} for p in pixels],
        "credentials": {"auth_type": "access_token", "access_token": token, **credentials},
        "graph_api": {"base_url": graph.base_url},
    }


def check(cfg: dict[str, Any]) -> Any:
    return SourceMetaCapi().check(logging.getLogger("test"), cfg)


def test_check_succeeds_when_every_pixel_answers_with_classic_and_timed_proofs():
    with GraphStandIn(access_token=TOKEN, app_secret=SECRET, pixels=("111", "222")) as graph:
        for timed in (True, False):
            cfg = config(
                graph,
                ["111", "222"],
                auth_type="app_credentials",
                app_id="42",
                app_secret=SECRET,
                use_appsecret_time=timed,
            )
            assert check(cfg).status == Status.SUCCEEDED
        sent = graph.requests_to(PIXEL)
        assert all(dict(r.query).get("appsecret_proof") for r in sent)
        assert any("appsecret_time" in dict(r.query) for r in sent)
        assert all(TOKEN not in str(r.query) for r in sent), "the token travels in the Authorization header only"


def test_check_names_the_pixel_that_is_not_shared_and_the_one_with_a_bad_token():
    with GraphStandIn(access_token=TOKEN, pixels=("111",)) as graph:
        result = check(config(graph, ["111", "333"]))
        assert result.status == Status.FAILED
        assert "333" in result.message and "111" not in result.message
        bad = check(config(graph, ["111"], token="EAAB-wrong-token"))
        assert bad.status == Status.FAILED and "111" in bad.message and "190" in bad.message
        assert "EAAB-wrong-token" not in bad.message


def test_check_retries_a_transient_error_once():
    with GraphStandIn(access_token=TOKEN, pixels=("111",)) as graph:
        graph.enqueue(PIXEL, server_error(503))
        assert check(config(graph, ["111"])).status == Status.SUCCEEDED
        graph.enqueue(PIXEL, server_error(503), server_error(503))
        failed = check(config(graph, ["111"]))
        assert failed.status == Status.FAILED and "111" in failed.message


def test_check_with_wrong_app_secret_explains_without_leaking_it():
    with GraphStandIn(access_token=TOKEN, app_secret=SECRET, pixels=("111",)) as graph:
        result = check(config(graph, ["111"], auth_type="app_credentials", app_id="42", app_secret="not-the-secret"))
        assert result.status == Status.FAILED and "111" in result.message
        assert "not-the-secret" not in result.message and TOKEN not in result.message
