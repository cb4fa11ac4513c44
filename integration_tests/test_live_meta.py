"""Integration tests with sandbox pixels: the real Graph API.

They run only when `META_CAPI_LIVE_ACCESS_TOKEN` and `META_CAPI_LIVE_PIXEL_ID` are set (skipped
otherwise). `META_CAPI_LIVE_APP_SECRET` adds appsecret_proof; `META_CAPI_LIVE_TEST_EVENT_CODE`
also sends one test event through the CAPI client (it shows under Events Manager → Test events and
is not counted as a real conversion).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airbyte_cdk.models import Status, SyncMode

from integration_tests.support.push_harness import records, sync
from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.source import SourceMetaCapi

TOKEN = os.environ.get("META_CAPI_LIVE_ACCESS_TOKEN", "")
PIXEL = os.environ.get("META_CAPI_LIVE_PIXEL_ID", "")
APP_SECRET = os.environ.get("META_CAPI_LIVE_APP_SECRET", "")
TEST_EVENT_CODE = os.environ.get("META_CAPI_LIVE_TEST_EVENT_CODE", "")
# A sandbox or proxy in front of graph.facebook.com, if any.
GRAPH_BASE_URL = os.environ.get("META_CAPI_LIVE_GRAPH_BASE_URL", "https://graph.facebook.com")

pytestmark = [
    pytest.mark.live,
    pytest.mark.requires_creds,
    pytest.mark.skipif(
        not (TOKEN and PIXEL), reason="set META_CAPI_LIVE_ACCESS_TOKEN and META_CAPI_LIVE_PIXEL_ID to run"
    ),
]


def live_config() -> dict[str, Any]:
    credentials: dict[str, Any] = {"auth_type": "access_token", "access_token": TOKEN}
    if APP_SECRET:
        credentials = {
            "auth_type": "app_credentials",
            "app_id": "100000000000001",
            "app_secret": APP_SECRET,
            "access_token": TOKEN,
        }
    start = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:00:00Z")
    return {
        "pixels": [{"pixel_id": PIXEL}],
        "credentials": credentials,
        "start_date": start,
        "graph_api": {"base_url": GRAPH_BASE_URL},
    }


def test_check_reaches_the_pixel():
    result = SourceMetaCapi().check(logging.getLogger("live"), live_config())
    assert result.status == Status.SUCCEEDED, result.message


def test_pull_streams_read_without_errors_and_never_print_the_token():
    output = sync(live_config(), streams=["pixels", "pixel_stats", "dataset_quality"], mode=SyncMode.incremental)
    assert [r["id"] for r in records(output, "pixels")] == [PIXEL]
    everything = "\n".join(str(m) for m in output.get_message_iterator())
    assert TOKEN not in everything


@pytest.mark.skipif(not TEST_EVENT_CODE, reason="set META_CAPI_LIVE_TEST_EVENT_CODE to send a test event")
def test_a_test_event_is_received_by_meta():
    client = CapiEventsClient(graph_base_url=GRAPH_BASE_URL, app_secret=APP_SECRET or None)
    event = {
        "event_name": "PageView",
        "event_time": int(time.time()),
        "event_id": f"live-test-{int(time.time())}",
        "action_source": "website",
        "event_source_url": "https://example.com/live-test",
        "user_data": {"client_ip_address": "2001:db8::1", "client_user_agent": "source-meta-capi live test"},
    }
    report = client.send(PIXEL, TOKEN, [event], test_event_code=TEST_EVENT_CODE)
    assert report.events_received == 1, report
