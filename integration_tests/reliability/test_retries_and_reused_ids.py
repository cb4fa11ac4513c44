"""Scenario 1b: retries, reused webhook-ids and an unencodable event, against a receiver process.

Two senders on one pixel number their requests with counters (`msg_1`, `msg_2`, … each), so every
webhook-id is used by both with different bodies; every request is sent twice (a retry after a
lost answer); and among them, concurrently, requests whose one event nests too deeply to be
staged. Then: every event of both senders is staged (a reused id is new data), retries staged
copies with the same identities, the source emits each identity exactly once, and each
unencodable request is refused alone (422, its event dead-lettered) while its neighbours in the
same group commits get 200."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.reliability import audit
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.source_runs import push_config, sync_until_quiet
from integration_tests.reliability.traffic import (
    PIXEL,
    PlannedRequest,
    assert_all_and_only,
    assert_exactly_once,
    make_event,
    plan_requests,
    sign,
    staged_identities,
)
from source_meta_capi.staging.local_store import LocalFolderStore


@dataclass(frozen=True)
class Scale:
    requests_per_sender: int
    events_per_request: int
    unencodable_every: int
    concurrency: int


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"n": value}
    return value


def _unencodable(number: int) -> PlannedRequest:
    event_id = f"deep-{number}"
    event = make_event(event_id, tag="deep")
    event["custom_data"] = {"currency": "USD", "value": 1.0, "detail": _deep(300)}
    body = json.dumps({"data": [event]}).encode()
    return PlannedRequest(f"msg_deep_{number}", PIXEL, body, (), (event_id,), {event_id: event["event_time"]})


def _post(session: requests.Session, url: str, planned: PlannedRequest) -> requests.Response:
    for _ in range(50):  # transport errors only: this scenario kills nothing
        try:
            return session.post(
                f"{url}/v1/pixels/{planned.pixel_id}/events",
                data=planned.body,
                headers=sign(planned.body, planned.webhook_id),
                timeout=30,
            )
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"{planned.webhook_id}: no answer")


@pytest.mark.parametrize(
    "scale",
    variants(fast=Scale(24, 3, 6, 8), full=Scale(400, 5, 10, 16)),
)
def test_given_reused_ids_retries_and_unencodable_events_when_sent_then_nothing_lost_and_emitted_once(
    tmp_path: Path, scale: Scale, figures
) -> None:
    bucket = tmp_path / "bucket"
    receiver = ReceiverProcess(
        receiver_env(str(bucket), META_CAPI_GROUP_COMMIT_LINGER_MS="20"), tmp_path / "receiver.log"
    ).start()
    store = LocalFolderStore(str(bucket))
    audit.register_store(store)
    senders = [
        [
            replace(p, webhook_id=f"msg_{n}")
            for n, p in enumerate(plan_requests(scale.requests_per_sender, scale.events_per_request, run=name))
        ]
        for name in ("sendera", "senderb")
    ]
    good = [p for pair in zip(*senders, strict=True) for p in pair]
    bad = [_unencodable(n) for n in range(len(good) // scale.unencodable_every)]
    # Interleaved: every unencodable request is sent among good ones, so it shares group commits.
    traffic: list[PlannedRequest] = []
    for n, planned in enumerate(good):
        traffic.append(planned)
        if n % scale.unencodable_every == 0 and n // scale.unencodable_every < len(bad):
            traffic.append(bad[n // scale.unencodable_every])
    traffic = traffic + traffic  # every request again: the retry after a lost answer
    started = time.monotonic()
    try:
        with requests.Session() as session, ThreadPoolExecutor(scale.concurrency) as pool:
            answers = list(pool.map(lambda p: (p, _post(session, receiver.url, p)), traffic))
    finally:
        receiver.stop()
    seconds = time.monotonic() - started

    for planned, answer in answers:
        body = answer.json()
        if planned.valid_ids:
            assert answer.status_code == 200, (planned.webhook_id, answer.status_code, body)
            assert body["event_ids"] == list(planned.valid_ids) and "idempotent-replayed" not in answer.headers
        else:
            assert answer.status_code == 422, (planned.webhook_id, answer.status_code, body)
            (rejection,) = body["rejections"]
            assert rejection["event_id"] == planned.invalid_ids[0] and rejection["field"] == "custom_data"
    expected = {identity for planned in good for identity in planned.identities()}
    staged = staged_identities(store, (PIXEL,))
    copies = assert_all_and_only(staged, expected, "staged")
    assert copies >= len(expected), "every request was sent twice: its retry staged again"
    emitted, letters, syncs = sync_until_quiet(push_config({"bucket_url": bucket.as_uri()}))
    assert_exactly_once(emitted, expected, "emitted by the source")
    deep_letters = {letter["event_id"] for letter in letters if letter["event_id"].startswith("deep-")}
    assert deep_letters == {p.invalid_ids[0] for p in bad}
    assert all("fields" in letter["event"] for letter in letters if letter["event_id"].startswith("deep-"))
    objects = len(list(store.list_keys("events/"))) + len(list(store.list_keys("dead_letters/")))
    figures(
        "1b_retries_reused_ids_unencodable",
        {
            "requests_sent": len(traffic),
            "requests_with_a_reused_webhook_id": len(good),
            "unencodable_requests": len(bad) * 2,
            "answers_200": sum(1 for _, a in answers if a.status_code == 200),
            "answers_422_unencodable": sum(1 for _, a in answers if a.status_code == 422),
            "events_accepted": len(expected),
            "events_staged": sum(staged.values()),
            "event_copies_staged_by_retries": copies,
            "events_emitted": sum(emitted.values()),
            "events_emitted_twice": sum(1 for n in emitted.values() if n > 1),
            "dead_letters_unencodable_distinct": len(deep_letters),
            "objects_written": objects,
            "source_syncs": syncs,
            "seconds": round(seconds, 1),
        },
    )
