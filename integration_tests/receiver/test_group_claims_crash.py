"""Group claims under SIGKILL: a receiver on the local store (claims made in group puts) is killed
while a group's claims are visible but not synced, after they are durable but before the events
object, and after the events object but before any answer. Clients retry with the same
webhook-id; afterwards every event is staged exactly once and every 2xx had its events staged."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.sender import send_all
from integration_tests.reliability.traffic import (
    OTHER_PIXEL,
    PIXEL,
    Answer,
    Ledger,
    PlannedRequest,
    assert_exactly_once,
    plan_requests,
    staged_identities,
)
from source_meta_capi.staging.local_store import LocalFolderStore

CRASH_PLAN = ("before_group_sync", "after_group_sync", "after_events")


class GroupCrashReceiver(ReceiverProcess):
    """`group_crash_main` instead of the reliability suite's launcher; arms the next crash point
    of the plan at each start."""

    launcher = "integration_tests.receiver.group_crash_main"

    def __init__(self, env: dict[str, str], log_path: Path, crash_log: Path) -> None:
        super().__init__(env, log_path)
        self.crash_log = crash_log
        self.plan = list(CRASH_PLAN)

    def start_env(self) -> dict[str, str]:
        crash = f"{self.plan.pop(0)}@2" if self.plan else ""
        return {**self.env, "GROUP_CRASH": crash, "GROUP_CRASH_LOG": str(self.crash_log)}


def test_given_receiver_killed_around_group_claims_when_clients_retry_then_each_event_staged_once(
    tmp_path: Path,
) -> None:
    bucket = tmp_path / "bucket"
    crash_log = tmp_path / "crashes.log"
    receiver = GroupCrashReceiver(receiver_env(str(bucket)), tmp_path / "receiver.log", crash_log)
    receiver.start()
    store = LocalFolderStore(str(bucket))
    stop = threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            if not receiver.alive():
                receiver.kill()  # reap
                receiver.start()
            time.sleep(0.01)

    answered_unstaged: list[str] = []

    def check_durable(planned: PlannedRequest, answer: Answer) -> None:
        if answer.status == 200 and not planned.identities() <= set(staged_identities(store)):
            answered_unstaged.append(planned.webhook_id)

    planned = plan_requests(90, 2, run="groupcrash", invalid_every=9, pixels=(PIXEL, OTHER_PIXEL))
    ledger = Ledger(planned)
    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    try:
        send_all(planned, lambda: receiver.url, ledger, concurrency=12, budget_s=120, on_answer=check_durable)
    finally:
        stop.set()
        supervisor.join(timeout=30)
        receiver.stop()

    ledger.check_answers()
    assert ledger.attempts["409"] >= 1, "a retry met a claim whose group was killed before its object"
    assert_exactly_once(staged_identities(store), ledger.expected_identities(), "staged")
    assert answered_unstaged == [], "a 2xx went out before its events were staged"
    assert crash_log.read_text().split() == list(CRASH_PLAN)
    # The claims really were grouped: some claim files are one pack linked under several names.
    claims = list((bucket / "idempotency").rglob("*.json"))
    assert claims and max(path.stat().st_nlink for path in claims) > 1
