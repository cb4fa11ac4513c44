"""Pull mode end to end: the real CLI (`python -m source_meta_capi.run`) against the Graph API stand-in.

A real ThreadingHTTPServer on 127.0.0.1 answers like Meta (cursor paging with absolute
`paging.next`, proof checks, scripted faults); the connector runs as a subprocess, exactly as
the platform runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from integration_tests.support.graph_stand_in import DATASET_QUALITY, PIXEL, STATS, GraphStandIn
from integration_tests.support.graph_stand_in.responses import server_error

TOKEN = "EAAB-integration-token-0123456789abcdef"
APP_SECRET = "integration-app-secret"
PIXELS = ("1111111111", "2222222222", "3333333333")
AGGREGATIONS = ("event", "event_source", "event_processing_results", "match_keys")
STREAMS = ("pixels", "pixel_stats", "dataset_quality")


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    stand_in = GraphStandIn(access_token=TOKEN, app_secret=APP_SECRET, pixels=PIXELS)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for pixel_id in PIXELS:
        stand_in.add_pixel(pixel_id, name=f"Pixel {pixel_id}", last_fired_time="2026-11-26T05:59:12+0000")
        for aggregation in AGGREGATIONS:
            # 30 days of hourly buckets, read back to start_date in 7-day slices.
            stand_in.add_hourly_stats(pixel_id, aggregation, now, 30 * 24)
        stand_in.set_dataset_quality(
            pixel_id, [{"event_name": "Purchase", "event_match_quality": {"composite_score": 7.2}}]
        )
    with stand_in:
        yield stand_in


def _config(graph: GraphStandIn, token: str = TOKEN) -> dict[str, Any]:
    return {
        "pixels": [{"pixel_id": pixel_id, "ad_account_id": "act_1"} for pixel_id in PIXELS],
        "start_date": f"{datetime.now(UTC) - timedelta(days=30):%Y-%m-%dT%H:%M:%SZ}",
        "credentials": {
            "auth_type": "app_credentials",
            # A realistic 15-digit id: app_id is airbyte_secret, and the CDK masks every occurrence of a
            # secret in the output, so "42" would mask digits of timestamps too.
            "app_id": "123456789012345",
            "app_secret": APP_SECRET,
            "access_token": token,
        },
        "graph_api": {"base_url": graph.base_url, "api_version": "v26.0"},
    }


def _catalog(mode: str) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "full_refresh" if name == "pixels" else mode,
                "destination_sync_mode": "append",
            }
            for name in STREAMS
        ]
    }


def _run_read(
    tmp_path: Path, config: dict[str, Any], mode: str, state: Any = None
) -> tuple[int, list[dict[str, Any]], str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(_catalog(mode)))
    args = [
        sys.executable,
        "-m",
        "source_meta_capi.run",
        "read",
        "--config",
        str(tmp_path / "config.json"),
        "--catalog",
        str(tmp_path / "catalog.json"),
    ]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=240, check=False)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return completed.returncode, messages, completed.stdout + completed.stderr


def _records(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [m["record"]["data"] for m in messages if m["type"] == "RECORD" and m["record"]["stream"] == stream]


def _final_states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message["type"] == "STATE":
            latest[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
    return list(latest.values())


def test_given_30_days_3_pixels_4_aggregations_when_read_then_minimum_requests_and_no_secrets(
    graph: GraphStandIn, tmp_path: Path
) -> None:
    started = datetime.now(UTC)
    code, messages, output = _run_read(tmp_path, _config(graph), "incremental")

    assert code == 0, output[-3000:]
    assert len(_records(messages, "pixels")) == 3
    assert len(_records(messages, "dataset_quality")) == 3
    stats = _records(messages, "pixel_stats")
    # The minimum: one request per pixel, one per pixel x aggregation x 7-day slice (30 days =
    # 5 slices of at most 7 days, each one page of <= 168 hourly buckets) and one per dataset.
    assert Counter(r.route for r in graph.requests) == {PIXEL: 3, STATS: 12 * 5, DATASET_QUALITY: 3}
    stats_windows = [dict(r.query) for r in graph.requests if r.route == STATS]
    for window in stats_windows:
        span = datetime.fromisoformat(window["end_time"]) - datetime.fromisoformat(window["start_time"])
        assert span <= timedelta(days=7)
    assert all(dict(r.query).get("appsecret_proof") for r in graph.requests)
    assert all(r.status == 200 for r in graph.requests)
    # Every hour the stand-in serves since start_date, normalized to RFC 3339 UTC.
    assert stats and all(datetime.fromisoformat(r["start_time"]) >= started - timedelta(days=31) for r in stats)
    assert all(r["start_time"].endswith("Z") for r in stats)
    assert {(r["pixel_id"], r["aggregation"]) for r in stats} == {(p, a) for p in PIXELS for a in AGGREGATIONS}
    assert TOKEN not in output and APP_SECRET not in output


def test_given_previous_state_when_read_again_then_rereads_only_the_lookback(
    graph: GraphStandIn, tmp_path: Path
) -> None:
    code, messages, output = _run_read(tmp_path, _config(graph), "incremental")
    assert code == 0, output[-3000:]
    first_requests = len(graph.requests)

    code, messages, output = _run_read(tmp_path, _config(graph), "incremental", state=_final_states(messages))

    assert code == 0, output[-3000:]
    second = graph.requests[first_requests:]
    latest_bucket = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    stats_starts = {dict(r.query)["start_time"] for r in second if r.route == STATS}
    assert stats_starts == {f"{latest_bucket - timedelta(hours=6):%Y-%m-%dT%H:%M:%SZ}"}
    # The lookback re-reads the latest 7 hourly buckets of each of the 12 partitions.
    assert len(_records(messages, "pixel_stats")) == 12 * 7 * 2


def test_given_transient_503_when_read_then_retried_and_complete(graph: GraphStandIn, tmp_path: Path) -> None:
    graph.enqueue(STATS, server_error(503))

    code, messages, output = _run_read(tmp_path, _config(graph), "incremental")

    assert code == 0, output[-3000:]
    assert Counter(r.route for r in graph.requests)[STATS] == 12 * 5 + 1
    assert {(r["pixel_id"], r["aggregation"]) for r in _records(messages, "pixel_stats")} == {
        (p, a) for p in PIXELS for a in AGGREGATIONS
    }


def test_given_unknown_token_when_read_then_config_error_trace_without_token(
    graph: GraphStandIn, tmp_path: Path
) -> None:
    bad_token = "EAAB-revoked-token-9876543210fedcba"
    code, messages, output = _run_read(tmp_path, _config(graph, token=bad_token), "incremental")

    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert code != 0
    assert errors and all(e["failure_type"] == "config_error" for e in errors)
    assert any("Access token is invalid" in e["message"] for e in errors)
    assert bad_token not in output and APP_SECRET not in output
