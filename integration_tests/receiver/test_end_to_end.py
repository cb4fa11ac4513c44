"""End to end: signed events in → staged → forwarded to the Graph stand-in → statuses staged →
the source's read returns the events, statuses and dead letters."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from integration_tests.receiver.conftest import PIXEL, SECRET, TOKEN, event
from integration_tests.support.push_harness import records, sync
from source_meta_capi.receiver.cli import main as cli_main

RAW_VALUES = ("Joe@Example.com", "joe@example.com", "(650)555-1212")


def test_given_signed_events_when_received_forwarded_and_synced_then_source_reads_everything(
    make_receiver, graph, tmp_path
) -> None:
    receiver = make_receiver(graph=graph, forward_mode="background")
    graph.reject_event_ids({"meta-says-no"})
    bodies = [
        {"data": [event("e2e-1"), event("e2e-2", name="Purchase", custom_data={"value": 12.5, "currency": "USD"})]},
        {"data": [event("meta-says-no"), event("e2e-3"), event("too-old", event_time=int(time.time()) - 9 * 86400)]},
    ]
    for body in bodies:
        assert receiver.send(body).status_code == 200
    assert receiver.runtime.background is not None and receiver.runtime.background.wait_idle(15)
    assert sorted(graph.received_event_ids(PIXEL)) == ["e2e-1", "e2e-2", "e2e-3"]

    config = {
        "pixels": [{"pixel_id": PIXEL}],
        "staging": {"bucket_url": receiver.runtime.store.url, "settle_seconds": 0},
    }
    output = sync(config)
    events = records(output, "delivered_events")
    statuses = records(output, "delivery_statuses")
    letters = records(output, "dead_letters")
    assert sorted(e["event_id"] for e in events) == ["e2e-1", "e2e-2", "e2e-3", "meta-says-no"]
    assert {e["signature_status"] for e in events} == {"verified:standard_webhooks"}
    delivered = {i for s in statuses if s["outcome"] == "delivered" for i in s["event_ids"]}
    assert delivered == {"e2e-1", "e2e-2", "e2e-3"}
    assert all(s["pixel_id"] == PIXEL and s["batch_id"] and s["attempt"] >= 1 for s in statuses)
    assert sorted((dl["event_id"], dl["stage"]) for dl in letters) == [
        ("meta-says-no", "meta_rejected"),
        ("too-old", "intake"),
    ]
    everything = json.dumps([events, statuses, letters])
    assert not any(value in everything for value in RAW_VALUES) and TOKEN not in everything


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_given_console_script_when_serving_then_send_sample_is_staged(tmp_path: Path, capsys) -> None:
    port = _free_port()
    bucket = tmp_path / "bucket"
    env = {
        **os.environ,
        "META_CAPI_STAGING_URL": str(bucket),
        "META_CAPI_WEBHOOK_SECRETS": SECRET,
        "META_CAPI_FORWARD_MODE": "off",
        "META_CAPI_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "source_meta_capi.receiver.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "receiver did not start"
            time.sleep(0.05)
        assert (
            cli_main(
                [
                    "send-sample",
                    "--url",
                    f"http://127.0.0.1:{port}",
                    "--pixel",
                    PIXEL,
                    "--secret",
                    SECRET,
                    "--count",
                    "4",
                ]
            )
            == 0
        )
        assert '"events_accepted":4' in capsys.readouterr().out
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured.
    assert server.returncode in (0, -15)
    logs = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    staged = [entry for entry in logs if entry["message"] == "batch staged"]
    assert staged and staged[0]["pixel_id"] == PIXEL and staged[0]["signature_status"] == "verified:standard_webhooks"
    assert "Customer0@Example.com" not in stderr.decode() and SECRET not in stderr.decode()
    assert list((bucket / "events").rglob("*.jsonl.gz"))
