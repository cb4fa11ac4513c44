from datetime import datetime, timedelta, timezone

from source_meta_capi.staging.idempotency import IdempotencyLedger, LedgerOutcome
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.writer import StagingWriter

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def accept(ledger, writer, key, response):
    lookup = ledger.lookup("1", key)
    if lookup.outcome is not LedgerOutcome.NEW:
        return lookup
    planned = writer.plan(ObjectKind.EVENTS, "1")
    assert ledger.claim("1", key, lookup.next_attempt, planned.stem, response)
    writer.commit(planned, [{"pixel_id": "1", "event_id": "e"}])
    return lookup


def test_given_same_request_twice_then_one_object_and_original_answer(tmp_path):
    clock = Clock()
    store = LocalFolderStore(str(tmp_path))
    writer = StagingWriter(store, writer_id="w", clock=clock)
    ledger = IdempotencyLedger(store, commit_deadline_s=30, clock=clock)
    assert accept(ledger, writer, "msg_1", {"batch_id": "b1"}).outcome is LedgerOutcome.NEW
    clock.now += timedelta(seconds=5)
    again = accept(ledger, writer, "msg_1", {"batch_id": "other"})
    assert again.outcome is LedgerOutcome.REPLAY and again.response == {"batch_id": "b1"}
    assert len(list(store.list_keys("events/"))) == 1


def test_given_crash_after_claim_when_retried_early_then_in_progress_and_later_reclaimed(tmp_path):
    clock = Clock()
    store = LocalFolderStore(str(tmp_path))
    writer = StagingWriter(store, writer_id="w", clock=clock)
    ledger = IdempotencyLedger(store, commit_deadline_s=30, clock_skew_margin_s=10, clock=clock)
    planned = writer.plan(ObjectKind.EVENTS, "1")
    assert ledger.claim("1", "msg", 1, planned.stem, {"batch_id": "lost"})  # then the process dies
    clock.now += timedelta(seconds=5)
    early = ledger.lookup("1", "msg")
    assert early.outcome is LedgerOutcome.IN_PROGRESS and early.retry_after_s > 0
    clock.now += timedelta(seconds=60)
    late = ledger.lookup("1", "msg")
    assert late.outcome is LedgerOutcome.NEW and late.next_attempt == 2
    assert accept(ledger, writer, "msg", {"batch_id": "b2"}).next_attempt == 2
    assert ledger.lookup("1", "msg").response == {"batch_id": "b2"}
    assert len(list(store.list_keys("events/"))) == 1


def test_concurrent_duplicate_loses_the_claim(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    ledger = IdempotencyLedger(store, commit_deadline_s=30)
    assert ledger.claim("1", "k", 1, "events/x-", {}) is True
    assert ledger.claim("1", "k", 1, "events/y-", {}) is False


def test_idempotency_keys_are_hashed_into_safe_paths(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    ledger = IdempotencyLedger(store, commit_deadline_s=30)
    assert ledger.claim("1", "../../etc/passwd\n", 1, "events/x-", {})
    (key,) = list(store.list_keys(""))
    assert key.startswith("idempotency/pixel_id=1/") and ".." not in key
