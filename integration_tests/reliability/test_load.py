"""Scenario 9: bounded sustained load on loopback: the receiver keeps answering (every request
2xx), p50/p99 latency, errors and RSS are reported, memory stays flat, and every accepted event
is staged and emitted by the source exactly once."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integration_tests.reliability import audit
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.source_runs import push_config, sync_until_quiet
from integration_tests.reliability.traffic import PIXEL, SECRET, assert_exactly_once, raw_user_data, staged_identities
from source_meta_capi.receiver.signatures import parse_webhook_secret, sign_standard_webhook
from source_meta_capi.staging.local_store import LocalFolderStore

EVENTS_PER_REQUEST = 10


@dataclass(frozen=True)
class Scale:
    seconds: float
    connections: int


async def _client(
    port: int, stop_at: float, worker: int, now: int, users: list[dict[str, Any]], results: dict[str, Any]
) -> None:
    key = parse_webhook_secret(SECRET)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    serial = 0
    try:
        while time.monotonic() < stop_at:
            serial += 1
            ids = [f"load-{worker}-{serial}-{i}" for i in range(EVENTS_PER_REQUEST)]
            events = [
                {
                    "event_name": "AddToCart",
                    "event_time": now,
                    "event_id": event_id,
                    "action_source": "website",
                    "event_source_url": "https://shop.example.com/cart",
                    "user_data": users[(serial + i) % len(users)],
                    "custom_data": {"value": 3.5, "currency": "EUR"},
                }
                for i, event_id in enumerate(ids)
            ]
            body = json.dumps({"data": events}).encode()
            webhook_id = f"msg_load_{worker}_{serial}"
            stamp = int(time.time())
            head = (
                f"POST /v1/pixels/{PIXEL}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nwebhook-id: {webhook_id}\r\nwebhook-timestamp: {stamp}\r\n"
                f"webhook-signature: {sign_standard_webhook(key, webhook_id, stamp, body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            results["latencies"].append(time.perf_counter() - started)
            status = int(status_line.split()[1]) if status_line else 0
            results["statuses"][status] += 1
            if status == 200:
                results["accepted"].update((PIXEL, event_id, now) for event_id in ids)
    finally:
        writer.close()


def _load(port: int, seconds: float, connections: int) -> dict[str, Any]:
    users = [{**raw_user_data("load"), "client_user_agent": "load/1.0"} for _ in range(50)]
    results: dict[str, Any] = {"latencies": [], "statuses": Counter(), "accepted": set()}
    stop_at = time.monotonic() + seconds
    now = int(time.time()) - 60

    async def main() -> None:
        await asyncio.gather(*(_client(port, stop_at, w, now, users, results) for w in range(connections)))

    asyncio.run(main())
    return results


@pytest.mark.parametrize("scale", variants(fast=Scale(3, 8), full=Scale(60, 16)))
def test_given_sustained_load_when_receiving_then_all_answered_latency_reported_memory_flat(
    tmp_path: Path, scale: Scale, figures
) -> None:
    bucket = tmp_path / "bucket"
    receiver = ReceiverProcess(receiver_env(str(bucket), META_CAPI_COMMIT_DEADLINE_S="30"), tmp_path / "receiver.log")
    receiver.start()
    store = LocalFolderStore(str(bucket))
    audit.register_store(store)
    rss: list[tuple[float, int]] = []
    sampling = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not sampling.is_set():
            rss.append((time.monotonic() - started, receiver.rss_kb()))
            sampling.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    rss_start = receiver.rss_kb()
    sampler.start()
    try:
        results = _load(int(receiver.url.rsplit(":", 1)[1]), scale.seconds, scale.connections)
    finally:
        sampling.set()
        sampler.join(timeout=5)
        receiver.stop()

    latencies = sorted(results["latencies"])
    requests_sent = len(latencies)
    errors = requests_sent - results["statuses"][200]
    assert errors == 0, results["statuses"]
    accepted = results["accepted"]
    assert_exactly_once(staged_identities(store, (PIXEL,)), accepted, "staged")
    emitted, _, syncs = sync_until_quiet(push_config({"bucket_url": bucket.as_uri()}))
    assert_exactly_once(emitted, accepted, "emitted by the source")

    # Flat memory: the last quarter of the run may not sit far above the second quarter.
    quarter = len(rss) // 4
    early = statistics.median(kb for _, kb in rss[quarter : 2 * quarter]) if quarter else rss_start
    late = statistics.median(kb for _, kb in rss[3 * quarter :]) if quarter else rss[-1][1]
    growth_mb = (late - early) / 1024
    if scale.seconds >= 30:
        assert growth_mb < 25, f"RSS grew {growth_mb:.1f} MB between the second and the last quarter"

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    figures(
        "9_load",
        {
            "seconds": scale.seconds,
            "connections": scale.connections,
            "events_per_request": EVENTS_PER_REQUEST,
            "requests": requests_sent,
            "requests_per_second": round(requests_sent / scale.seconds),
            "events_staged": len(accepted),
            "answers_by_status": {str(k): v for k, v in results["statuses"].items()},
            "errors": errors,
            "latency_ms_p50": pct(0.50),
            "latency_ms_p99": pct(0.99),
            "latency_ms_max": round(1000 * latencies[-1], 1),
            "rss_mb_start": round(rss_start / 1024, 1),
            "rss_mb_second_quarter_median": round(early / 1024, 1),
            "rss_mb_last_quarter_median": round(late / 1024, 1),
            "rss_mb_max": round(max(kb for _, kb in rss) / 1024, 1),
            "source_syncs": syncs,
            "events_emitted": sum(emitted.values()),
        },
    )
