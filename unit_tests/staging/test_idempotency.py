from datetime import datetime, timedelta, timezone

import orjson

from source_meta_capi.staging.idempotency import ClaimRequest, IdempotencyLedger, LedgerOutcome
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


class _PutOnlyStore:
    """A store without group puts: claim_many falls back to one conditional put per claim."""

    def __init__(self, inner: LocalFolderStore) -> None:
        self.inner = inner
        self.puts = 0

    def put_if_absent(self, key, data):
        self.puts += 1
        return self.inner.put_if_absent(key, data)

    def __getattr__(self, name):
        if name == "put_many_if_absent":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_claim_many_claims_each_key_once_with_one_timestamp_on_any_store(tmp_path):
    clock = Clock()
    grouped_store = LocalFolderStore(str(tmp_path / "g"))
    grouped = IdempotencyLedger(grouped_store, commit_deadline_s=30, clock=clock)
    plain_store = _PutOnlyStore(LocalFolderStore(str(tmp_path / "p")))
    plain = IdempotencyLedger(plain_store, commit_deadline_s=30, clock=clock)
    assert grouped.claims_in_groups and not plain.claims_in_groups
    requests = [ClaimRequest("a", 1, {"n": 1}), ClaimRequest("b", 1, {"n": 2}), ClaimRequest("a", 1, {"n": 3})]
    for ledger in (grouped, plain):
        assert ledger.claim("1", "b", 1, "events/earlier-", {"n": 0}) is True
        assert ledger.claim_many("1", requests, "events/x-") == [True, False, False]
        assert ledger.lookup("1", "a").outcome is LedgerOutcome.IN_PROGRESS
    assert plain_store.puts == 4
    claims = [orjson.loads(grouped_store.get(key)) for key in grouped_store.list_keys("idempotency/")]
    assert sorted(c["object_stem"] for c in claims) == ["events/earlier-", "events/x-"]
    assert {c["claimed_at"] for c in claims} == {"2026-11-26T07:00:00.000000Z"}


def test_given_claim_torn_by_a_power_loss_then_its_attempt_counts_as_abandoned(tmp_path):
    from source_meta_capi.staging import local_store

    store = LocalFolderStore(str(tmp_path))
    ledger = IdempotencyLedger(store, commit_deadline_s=30, clock=Clock())
    assert ledger.claim_many("1", [ClaimRequest("torn", 1, {})], "events/x-") == [True]
    (claim,) = tmp_path.rglob("000001.json")
    claim.write_bytes(local_store._PACK_MAGIC + b'{"idempo')  # what a crash before the sync can leave
    lookup = ledger.lookup("1", "torn")
    assert lookup.outcome is LedgerOutcome.NEW and lookup.next_attempt == 2
