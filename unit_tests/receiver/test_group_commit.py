"""Group commit and idempotency: claim first, shared writes, one object per request retried,
claims durable before the events they point at, nothing half-written."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Optional, Sequence

import pytest

from source_meta_capi.receiver.group_commit import COMMITTED, IN_PROGRESS, REPLAYED, GroupAbandonedError
from source_meta_capi.receiver.http_messages import answer_for
from source_meta_capi.receiver.pipeline import RequestContext, batch_id_for, process
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.staging import local_store
from source_meta_capi.staging.idempotency import LedgerOutcome
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import StoreError, StoreUnavailableError

NOW = 1_795_000_000
PIXEL = "555"


class SpyStore(LocalFolderStore):
    """A local store that records every call (in order, with the event loop's answers interleaved
    by the tests) and fails puts while `fail_when(key)` is true."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.fail_when: Callable[[str], bool] = lambda key: False
        self.calls: list[tuple[str, str]] = []

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.calls.append(("put", key))
        if self.fail_when(key):
            raise StoreUnavailableError(f"injected failure writing {key}")
        return super().put_if_absent(key, data)

    def put_many_if_absent(self, items: Sequence[tuple[str, bytes]]) -> list[bool | StoreError]:
        self.calls.append(("put_many", ",".join(key for key, _ in items)))
        if any(self.fail_when(key) for key, _ in items):
            raise StoreUnavailableError("injected failure of a group put")
        return super().put_many_if_absent(items)

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        self.calls.append(("list", prefix))
        return super().list_keys(prefix, start_after)

    def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return super().get(key)

    def idempotency_calls(self) -> list[tuple[str, str]]:
        return [(op, key) for op, key in self.calls if "idempotency/" in key]


class PlainStore:
    """A store wrapper without group puts (like the reliability suite's fault injector)."""

    def __init__(self, inner: SpyStore) -> None:
        self.inner = inner
        self.url = inner.url

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self.inner.put_if_absent(key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self.inner.list_keys(prefix, start_after)

    def list_children(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self.inner.list_children(prefix, start_after)

    def check(self) -> None:
        self.inner.check()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path) -> SpyStore:
    return SpyStore(str(tmp_path / "bucket"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_runtime(store, clock: Clock):
    return build_runtime(
        ReceiverSettings(staging_url=str(getattr(store, "root", "unused")), forward_mode="off", commit_deadline_s=5),
        store=store,
        utc_clock=clock,
    )


@pytest.fixture
def runtime(store, clock) -> Iterator:
    rt = make_runtime(store, clock)
    yield rt
    rt.close()


def intake_for(key: str, events: Optional[list] = None):
    events = events or [
        {
            "event_name": "Lead",
            "event_time": NOW - 5,
            "event_id": f"{key}-e",
            "action_source": "email",
            "user_data": {"em": "a@b.co"},
        }
    ]
    context = RequestContext(PIXEL, f"r-{key}", batch_id_for(PIXEL, key), "unsigned", webhook_id=key)
    return process({"data": events}, context, NOW)


async def submit(rt, key: str, events: Optional[list] = None):
    intake = intake_for(key, events)
    status, body = answer_for(intake)
    return await rt.committer.submit(intake, key, {"status": status, "body": body})


def keys(store: LocalFolderStore, area: str) -> list[str]:
    return list(LocalFolderStore(str(store.root)).list_keys(f"{area}/"))


def staged_event_ids(store: LocalFolderStore) -> list[str]:
    plain = LocalFolderStore(str(store.root))
    return sorted(line.record["event_id"] for key in keys(store, "events") for line in StagingReader(plain).read(key))


def test_given_new_request_when_submitted_then_one_claim_and_no_lookup(runtime, store) -> None:
    outcome = asyncio.run(submit(runtime, "fresh"))
    assert outcome.status == COMMITTED
    (claim,) = store.idempotency_calls()
    assert claim[0] == "put_many" and claim[1].endswith("/000001.json")
    assert [op for op, _ in store.calls] == ["put_many", "put"]  # the claim, then the events object


def test_given_concurrent_requests_when_staged_then_they_share_claims_and_object_writes(runtime, store) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, f"k{i}") for i in range(40)))

    outcomes = asyncio.run(scenario())
    assert [o.status for o in outcomes] == [COMMITTED] * 40
    objects = keys(store, "events")
    group_puts = [key for op, key in store.calls if op == "put_many"]
    assert 1 <= len(objects) < 40 and len(group_puts) == len(objects)
    assert sum(len(keys.split(",")) for keys in group_puts) == 40
    assert not [key for op, key in store.calls if op == "put" and "idempotency/" in key]
    assert staged_event_ids(store) == sorted(f"k{i}-e" for i in range(40))


def test_given_group_when_committed_then_claims_durable_before_events_object_and_answers(
    runtime, store, monkeypatch
) -> None:
    order: list[str] = []
    syncfs = local_store.SYNCFS

    def spy_syncfs(descriptor: int) -> int:
        claims = keys(store, "idempotency")
        order.append(f"sync:{len(claims)}")
        return syncfs(descriptor) if syncfs is not None else 0

    monkeypatch.setattr(local_store, "SYNCFS", spy_syncfs)
    real_put = store.put_if_absent

    def put(key: str, data: bytes) -> bool:
        order.append("events_put" if key.startswith("events/") else "other_put")
        return real_put(key, data)

    monkeypatch.setattr(store, "put_if_absent", put)

    async def answered(key: str):
        outcome = await submit(runtime, key)
        order.append("answer")
        return outcome

    async def scenario():
        return await asyncio.gather(*(answered(f"d{i}") for i in range(8)))

    assert {o.status for o in asyncio.run(scenario())} == {COMMITTED}
    # One group: its 8 claims linked, synced once, then the events object, then the 8 answers.
    assert order == ["sync:8", "events_put"] + ["answer"] * 8


def test_given_fsync_fallback_when_group_claimed_then_same_outcome(runtime, store, monkeypatch) -> None:
    monkeypatch.setattr(local_store, "SYNCFS", None)
    synced: list[str] = []
    real = local_store._fsync_directory
    monkeypatch.setattr(local_store, "_fsync_directory", lambda path: (synced.append(str(path)), real(path)))

    async def scenario():
        return await asyncio.gather(*(submit(runtime, f"f{i}") for i in range(5)))

    assert {o.status for o in asyncio.run(scenario())} == {COMMITTED}
    claim_folders = {str(store.root / key).rsplit("/", 1)[0] for key in keys(store, "idempotency")}
    assert claim_folders <= set(synced)
    assert str(store.root / "idempotency" / f"pixel_id={PIXEL}") in synced  # the folders' parent too


def test_given_same_request_twice_when_staged_then_one_object_and_replay(runtime, store) -> None:
    first = asyncio.run(submit(runtime, "same"))
    store.calls.clear()
    again = asyncio.run(submit(runtime, "same"))
    assert first.status == COMMITTED and again.status == REPLAYED
    assert again.response is not None and again.response["body"]["event_ids"] == ["same-e"]
    assert len(keys(store, "events")) == 1
    # The retry lost its claim first, then looked the key up.
    assert [op for op, _ in store.idempotency_calls()][:2] == ["put_many", "list"]


def test_given_claim_without_object_when_retried_early_then_in_progress(runtime, store, clock) -> None:
    planned = runtime.writer.plan(ObjectKind.EVENTS, PIXEL)
    assert runtime.ledger.claim(PIXEL, "crashed", 1, planned.stem, {"status": 200, "body": {}})  # then a crash
    clock.now += timedelta(seconds=2)
    outcome = asyncio.run(submit(runtime, "crashed"))
    assert outcome.status == IN_PROGRESS and outcome.retry_after_s >= 1
    assert keys(store, "events") == []


def test_given_abandoned_claim_when_retried_after_window_then_reclaimed_with_next_attempt(
    runtime, store, clock
) -> None:
    planned = runtime.writer.plan(ObjectKind.EVENTS, PIXEL)
    assert runtime.ledger.claim(PIXEL, "late", 1, planned.stem, {"status": 200, "body": {}})
    clock.now += timedelta(minutes=5)
    outcome = asyncio.run(submit(runtime, "late"))
    assert outcome.status == COMMITTED
    claims = keys(store, "idempotency")
    assert [key.rsplit("/", 1)[1] for key in claims] == ["000001.json", "000002.json"]
    assert staged_event_ids(store) == ["late-e"]
    assert runtime.ledger.lookup(PIXEL, "late").outcome is LedgerOutcome.REPLAY


def test_given_duplicates_in_one_group_when_staged_then_one_copy(runtime, store) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, "dup") for _ in range(5)))

    statuses = [o.status for o in asyncio.run(scenario())]
    assert statuses.count(COMMITTED) == 1 and set(statuses) <= {COMMITTED, REPLAYED, IN_PROGRESS}
    assert staged_event_ids(store) == ["dup-e"]


def test_given_store_without_group_puts_when_staged_then_one_claim_put_per_request(store, clock) -> None:
    rt = make_runtime(PlainStore(store), clock)
    try:

        async def scenario():
            return await asyncio.gather(*(submit(rt, f"p{i}") for i in range(6)))

        assert {o.status for o in asyncio.run(scenario())} == {COMMITTED}
        assert [op for op, _ in store.idempotency_calls()] == ["put"] * 6
        assert asyncio.run(submit(rt, "p0")).status == REPLAYED
    finally:
        rt.close()


def test_given_events_put_fails_when_staged_then_abandoned_and_nothing_visible(runtime, store) -> None:
    store.fail_when = lambda key: key.startswith("events/")
    with pytest.raises(GroupAbandonedError) as raised:
        asyncio.run(submit(runtime, "fails"))
    assert raised.value.retry_after_s >= 30
    assert keys(store, "events") == []
    # The claim stays in flight until the deadline passes, so a quick retry cannot double-stage.
    assert runtime.ledger.lookup(PIXEL, "fails").outcome is LedgerOutcome.IN_PROGRESS


def test_given_transient_put_failure_when_staged_then_retried_within_deadline(runtime, store) -> None:
    failures = {"left": 2}

    def flaky(key: str) -> bool:
        if key.startswith("events/") and failures["left"]:
            failures["left"] -= 1
            return True
        return False

    store.fail_when = flaky
    assert asyncio.run(submit(runtime, "flaky")).status == COMMITTED
    assert len(keys(store, "events")) == 1


def test_given_claim_failure_when_staged_then_whole_group_abandoned(runtime, store) -> None:
    store.fail_when = lambda key: key.startswith("idempotency/")
    with pytest.raises(GroupAbandonedError):
        asyncio.run(submit(runtime, "noclaim"))
    assert keys(store, "events") == []


def test_given_lookup_failure_when_claim_lost_then_abandoned_with_short_retry(runtime, store, monkeypatch) -> None:
    assert asyncio.run(submit(runtime, "once")).status == COMMITTED

    def broken(prefix: str, start_after=None):
        raise StoreUnavailableError("injected listing failure")

    monkeypatch.setattr(store, "list_keys", broken)
    with pytest.raises(GroupAbandonedError) as raised:
        asyncio.run(submit(runtime, "once"))
    assert raised.value.retry_after_s == 5


def test_given_all_events_rejected_when_retried_then_dead_letters_written_once(runtime, store) -> None:
    bad = [
        {
            "event_name": "Lead",
            "event_time": NOW - 9 * 86400,
            "event_id": "late",
            "action_source": "email",
            "user_data": {"em": "a@b.co"},
        }
    ]
    assert asyncio.run(submit(runtime, "bad", bad)).status == COMMITTED
    assert asyncio.run(submit(runtime, "bad", bad)).status == REPLAYED
    assert len(keys(store, "dead_letters")) == 1 and keys(store, "events") == []


def test_given_group_when_staged_then_one_log_line_names_every_request(runtime, store, caplog) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, f"log{i}") for i in range(12)))

    with caplog.at_level(logging.INFO, logger="meta_capi_receiver"):
        asyncio.run(scenario())
    lines = [r.__dict__["ctx"] for r in caplog.records if r.getMessage() == "batch staged"]
    assert len(lines) == len(keys(store, "events")) < 12
    assert sorted(rid for line in lines for rid in line["request_ids"]) == sorted(f"r-log{i}" for i in range(12))
    assert sorted(wid for line in lines for wid in line["webhook_ids"]) == sorted(f"log{i}" for i in range(12))
    assert sum(line["group_requests"] for line in lines) == 12 and sum(line["accepted"] for line in lines) == 12
    assert all(line["pixel_id"] == PIXEL and line["object_key"].startswith("events/") for line in lines)
    assert all(line["signature_status"] == "unsigned" and line["rejected"] == 0 for line in lines)
