"""Scenario 4: Meta faults. The Graph stand-in (a real HTTP server on 127.0.0.1) answers 429 and
codes 17/4/613 with usage headers, 5xx storms, answers too slow for the client timeout, and a 400
for one bad event in a batch. Forwarding backs off as guided (waits recorded on a fake clock),
isolates the bad event, dead-letters after the retry budget; `redrive` later completes delivery;
no event is accepted by Meta twice except after an attempt whose outcome was unknown (a timeout),
which Meta deduplicates on event_id."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integration_tests.reliability import audit
from integration_tests.reliability.asgi_client import call
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.source_runs import push_config, sync_until_quiet
from integration_tests.reliability.traffic import ACCESS_TOKEN, PIXEL, SECRET, assert_exactly_once, make_event, sign
from integration_tests.support.clocks import FakeClock
from integration_tests.support.graph_stand_in import EVENTS, GraphStandIn
from integration_tests.support.graph_stand_in.responses import delayed, rate_limited, server_error
from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.jobs import redrive
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.receiver.signatures import parse_webhook_secret
from source_meta_capi.staging.local_store import LocalFolderStore

REGAIN_MINUTES = 2


@pytest.mark.parametrize("rounds", variants(fast=1, full=8))
def test_given_meta_faults_when_forwarding_then_guided_backoff_isolation_dead_letters_and_redrive_deliver_once(
    tmp_path: Path, rounds: int, figures
) -> None:
    clock = FakeClock()
    graph = GraphStandIn(access_token=ACCESS_TOKEN, pixels=[PIXEL]).start()
    settings = ReceiverSettings(
        staging_url=str(tmp_path / "bucket"),
        webhook_keys=(parse_webhook_secret(SECRET),),
        forward_mode="inline",
        forward_deadline_s=3600,
        forward_batch_deadline_s=3600,
        forward_max_attempts=4,
        graph_base_url=graph.base_url,
        access_tokens={PIXEL: ACCESS_TOKEN},
    )
    client = CapiEventsClient(
        graph.base_url,
        "v26.0",
        timeout=0.4,
        max_attempts=4,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=random.Random(3),
    )
    runtime = build_runtime(settings, events_client=client, monotonic=clock.monotonic)
    store = LocalFolderStore(str(tmp_path / "bucket"))
    audit.register_store(store)
    app = create_app(runtime=runtime, lifespan_owned=False)
    loop = asyncio.new_event_loop()
    accepted: set[tuple[str, str, int]] = set()
    bad_ids: set[str] = set()
    uncertain_ids: set[str] = set()
    storm_ids: set[str] = set()
    forwarding: Counter[str] = Counter()

    def send(tag: str, count: int, faults: tuple = (), bad: int | None = None) -> list[str]:
        events = [make_event(f"meta-{tag}-{i}", tag="meta") for i in range(count)]
        if bad is not None:
            graph.reject_event_ids({events[bad]["event_id"]}, blame_index=False)
            bad_ids.add(events[bad]["event_id"])
        if faults:
            graph.enqueue(EVENTS, *faults)
        body = json.dumps({"data": events}).encode()
        headers = [(k.encode(), v.encode()) for k, v in sign(body, f"msg_meta_{tag}").items()]
        response = loop.run_until_complete(call(app, "POST", f"/v1/pixels/{PIXEL}/events".encode(), headers, body))
        assert response.status == 200, response.body
        answer = response.json()
        forwarding[answer["forwarding"]["status"]] += 1
        accepted.update((PIXEL, e["event_id"], e["event_time"]) for e in events)
        return [e["event_id"] for e in events]

    graph_requests = 0
    try:
        for r in range(rounds):
            send(f"{r}-429", 10, (rate_limited(17, status=429, regain_minutes=REGAIN_MINUTES),))
            send(f"{r}-codes", 10, (rate_limited(4), rate_limited(613), rate_limited(17)))
            storm_ids.update(send(f"{r}-storm", 10, tuple(server_error(503) for _ in range(4))))
            uncertain_ids.update(send(f"{r}-timeout", 5, (delayed(1.0),)))
            send(f"{r}-bad", 16, bad=7)
        sleeps = list(clock.sleeps)
        graph_requests = len(graph.requests_to(EVENTS))
        # The storm outlasted the budget: replayable dead letters; redrive (run "later") delivers them.
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        first = redrive(runtime, clock=lambda: later)
        second = redrive(runtime, clock=lambda: later + timedelta(hours=1))
    finally:
        loop.close()
        audit.register_text("metrics of an in-process receiver", runtime.metrics.render().decode())
        runtime.close()
        time.sleep(1.2)  # let answers the client stopped waiting for land in the stand-in
        graph.stop()

    received = Counter(graph.received_event_ids(PIXEL))
    accepted_ids = {event_id for _, event_id, _ in accepted}
    assert set(received) == accepted_ids - bad_ids, "every good event delivered, the bad one never"
    twice = {event_id for event_id, n in received.items() if n > 1}
    assert twice <= uncertain_ids, f"delivered twice without an uncertain attempt: {sorted(twice - uncertain_ids)[:5]}"
    assert max(sleeps) >= REGAIN_MINUTES * 60, "estimated_time_to_regain_access was not honoured"
    assert first.letters_replayed == len(storm_ids) and first.delivered >= len(storm_ids)
    assert second.events_sent == 0, "a second redrive must find nothing left to send"

    emitted, letters, syncs = sync_until_quiet(push_config({"bucket_url": store.url}))
    assert_exactly_once(emitted, accepted, "emitted by the source")
    stages = Counter((letter["stage"], letter["event_id"]) for letter in letters)
    assert {event_id for (stage, event_id) in stages if stage == "meta_rejected"} == bad_ids
    assert {event_id for (stage, event_id) in stages if stage == "forwarding"} == storm_ids
    statuses = [r for r in store.list_keys("statuses/")]
    figures(
        "4_meta_faults",
        {
            "rounds": rounds,
            "events_accepted": len(accepted),
            "graph_requests_during_intake": graph_requests,
            "inline_forwarding_status": dict(forwarding),
            "backoff_waits_s": {
                "count": len(sleeps),
                "max": round(max(sleeps), 1),
                "total": round(sum(sleeps), 1),
                "regain_access_guidance_s": REGAIN_MINUTES * 60,
            },
            "events_delivered_distinct": len(received),
            "events_delivered_twice_after_timeout": len(twice),
            "events_delivered_twice_otherwise": 0,
            "bad_events_isolated": len(bad_ids),
            "dead_letters_meta_rejected": sum(1 for stage, _ in stages if stage == "meta_rejected"),
            "dead_letters_after_retry_budget": sum(1 for stage, _ in stages if stage == "forwarding"),
            "redrive_first_run": {"letters_replayed": first.letters_replayed, "delivered": first.delivered},
            "redrive_second_run_events_sent": second.events_sent,
            "status_objects": len(statuses),
            "source_syncs": syncs,
        },
    )
