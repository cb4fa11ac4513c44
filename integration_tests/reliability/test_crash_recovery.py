"""Scenario 1: the receiver is SIGKILLed at random points under load (around a group's
dead-letters object, around its events object — after it, the events are durable and nobody was
answered — and from outside at random times); clients retry; afterwards every event sent was
accepted (and is staged, retries possibly staged again with the same identity) or refused with
a reason, and the source emits each accepted identity exactly once."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration_tests.reliability import audit
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.sender import send_all
from integration_tests.reliability.source_runs import push_config, sync_until_quiet
from integration_tests.reliability.traffic import (
    OTHER_PIXEL,
    PIXEL,
    Ledger,
    assert_all_and_only,
    assert_exactly_once,
    plan_requests,
    staged_identities,
)
from source_meta_capi.staging.local_store import LocalFolderStore

CRASH_POINTS = ("after_events", "after_letters", "before_events", "before_letters")
# A production setting (default 0): at this scenario's load a group would mostly hold one request,
# and the crash points must hit groups of several.
GROUP_COMMIT_LINGER_MS = "50"


@dataclass(frozen=True)
class Scale:
    requests: int
    events_per_request: int
    external_kills: int
    self_kills: int  # cycling through CRASH_POINTS, each at a random n-th occurrence
    concurrency: int
    budget_s: float


class Supervisor:
    """Restarts the receiver when it died (arming the next self-kill point), and SIGKILLs it
    from outside at random moments."""

    def __init__(
        self, receiver: ReceiverProcess, crash_log: Path, external_kills: int, self_kills: int, seed: int
    ) -> None:
        self.receiver = receiver
        self.crash_log = crash_log
        self.fired = 0
        self.remaining = external_kills
        self.rng = random.Random(seed)
        self.crash_plan = [CRASH_POINTS[i % len(CRASH_POINTS)] for i in range(self_kills)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._arm()

    def _arm(self) -> None:
        # An armed point that did not fire (the process was killed from outside first) stays armed.
        fired = len(self.crash_log.read_text().split()) if self.crash_log.exists() else 0
        if fired > self.fired or not self.receiver.env.get("RELIABILITY_CRASH"):
            self.fired = fired
            point = self.crash_plan.pop(0) if self.crash_plan else None
        else:
            point = self.receiver.env["RELIABILITY_CRASH"].split("@")[0]
        self.receiver.env["RELIABILITY_CRASH"] = f"{point}@{self.rng.randint(1, 3)}" if point else ""

    def _run(self) -> None:
        next_kill = time.monotonic() + self.rng.uniform(0.3, 1.2)
        while not self.stop.is_set():
            if not self.receiver.alive():
                self.receiver.kill()  # reap
                self._arm()
                self.receiver.start()
            elif self.remaining and time.monotonic() >= next_kill:
                self.receiver.kill()
                self.remaining -= 1
                next_kill = time.monotonic() + self.rng.uniform(0.5, 1.5)
            time.sleep(0.01)


@pytest.mark.parametrize(
    "scale",
    variants(
        fast=Scale(requests=60, events_per_request=5, external_kills=2, self_kills=4, concurrency=6, budget_s=90),
        full=Scale(
            requests=1200, events_per_request=10, external_kills=20, self_kills=40, concurrency=12, budget_s=600
        ),
    ),
)
def test_given_receiver_sigkilled_under_load_when_clients_retry_then_nothing_lost_or_duplicated(
    tmp_path: Path, scale: Scale, figures
) -> None:
    bucket = tmp_path / "bucket"
    crash_log = tmp_path / "crashes.log"
    receiver = ReceiverProcess(
        receiver_env(
            str(bucket), RELIABILITY_CRASH_LOG=str(crash_log), META_CAPI_GROUP_COMMIT_LINGER_MS=GROUP_COMMIT_LINGER_MS
        ),
        tmp_path / "receiver.log",
    )
    supervisor = Supervisor(receiver, crash_log, scale.external_kills, scale.self_kills, seed=scale.requests)
    receiver.start()
    store = LocalFolderStore(str(bucket))
    audit.register_store(store)
    planned = plan_requests(
        scale.requests, scale.events_per_request, run="crash", invalid_every=7, pixels=(PIXEL, OTHER_PIXEL)
    )
    ledger = Ledger(planned)
    started = time.monotonic()
    supervisor.thread.start()
    try:
        send_all(planned, lambda: receiver.url, ledger, concurrency=scale.concurrency, budget_s=scale.budget_s)
    finally:
        supervisor.stop.set()
        supervisor.thread.join(timeout=30)
        receiver.stop()
    send_seconds = time.monotonic() - started

    answers = ledger.check_answers()
    expected = ledger.expected_identities()
    staged = staged_identities(store)
    copies = assert_all_and_only(staged, expected, "staged")

    emitted, letters, syncs = sync_until_quiet(push_config({"bucket_url": bucket.as_uri()}))
    assert_exactly_once(emitted, expected, "emitted by the source")
    invalid = {i for p_ in planned for i in p_.invalid_ids}
    intake_letters = {letter["event_id"] for letter in letters if letter["stage"] == "intake"}
    assert intake_letters == invalid
    letter_ids = [letter["dead_letter_id"] for letter in letters]

    crashes = crash_log.read_text().split() if crash_log.exists() else []
    assert set(crashes) == set(CRASH_POINTS), f"every crash point must be hit, got {crashes}"
    assert not (bucket / "idempotency").exists(), "nothing is written per request"
    figures(
        "1_crash_between_stage_and_answer",
        {
            "requests": len(planned),
            "events_sent": len(expected) + len(invalid),
            **answers,
            "sigkills_external": receiver.kills,
            "sigkills_before_letters_put": crashes.count("before_letters"),
            "sigkills_after_letters_put": crashes.count("after_letters"),
            "sigkills_before_events_put": crashes.count("before_events"),
            "sigkills_after_events_put_before_answer": crashes.count("after_events"),
            "receiver_starts": receiver.starts,
            "attempts_by_outcome": dict(sorted(ledger.attempts.items())),
            "objects_staged": len(list(store.list_keys("events/"))) + len(list(store.list_keys("dead_letters/"))),
            "events_staged": sum(staged.values()),
            "event_copies_staged_by_retries": copies,
            "source_syncs": syncs,
            "events_emitted": sum(emitted.values()),
            "events_emitted_twice": sum(1 for n in emitted.values() if n > 1),
            "dead_letters_emitted": len(letter_ids),
            "dead_letters_distinct": len(set(letter_ids)),
            "seconds": round(send_seconds, 1),
        },
    )
