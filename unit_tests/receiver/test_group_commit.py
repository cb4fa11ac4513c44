"""Group commit and idempotency: shared writes, one object per request retried, nothing half-written."""

from __future__ import annotations

import asyncio
from typing import Callable, Iterator, Optional

import pytest

from source_meta_capi.receiver.group_commit import COMMITTED, DUPLICATE, GroupAbandonedError
from source_meta_capi.receiver.http_messages import answer_for
from source_meta_capi.receiver.pipeline import RequestContext, batch_id_for, process
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.staging.idempotency import LedgerOutcome
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.store import StoreUnavailableError

NOW = 1_795_000_000
PIXEL = "555"


class FlakyStore(LocalFolderStore):
    """A local store whose puts fail while `fail_when(key)` is true."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.fail_when: Callable[[str], bool] = lambda key: False
        self.puts: list[str] = []

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.puts.append(key)
        if self.fail_when(key):
            raise StoreUnavailableError(f"injected failure writing {key}")
        return super().put_if_absent(key, data)


@pytest.fixture
def store(tmp_path) -> FlakyStore:
    return FlakyStore(str(tmp_path / "bucket"))


@pytest.fixture
def runtime(store) -> Iterator:
    rt = build_runtime(
        ReceiverSettings(staging_url=str(store.root), forward_mode="off", commit_deadline_s=5), store=store
    )
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
    return process({"data": events}, RequestContext(PIXEL, f"r-{key}", batch_id_for(PIXEL, key), "unsigned"), NOW)


async def submit(rt, key: str, events: Optional[list] = None):
    intake = intake_for(key, events)
    lookup = await asyncio.to_thread(rt.ledger.lookup, PIXEL, key)
    if lookup.outcome is not LedgerOutcome.NEW:
        return lookup.outcome.value
    status, body = answer_for(intake)
    stored = {"status": status, "body": body}
    if intake.accepted:
        outcome = await rt.committer.submit(intake, key, lookup.next_attempt, stored)
    else:
        outcome = await rt.committer.commit_rejected(intake, key, lookup.next_attempt, stored)
    return outcome.status


def keys(store: LocalFolderStore, area: str) -> list[str]:
    return list(store.list_keys(f"{area}/"))


def test_given_concurrent_requests_when_staged_then_they_share_object_writes(runtime, store) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, f"k{i}") for i in range(40)))

    assert asyncio.run(scenario()) == [COMMITTED] * 40
    objects = keys(store, "events")
    assert 1 <= len(objects) < 40
    from source_meta_capi.staging.reader import StagingReader

    lines = [line.record for key in objects for line in StagingReader(store).read(key)]
    assert sorted(r["event_id"] for r in lines) == sorted(f"k{i}-e" for i in range(40))


def test_given_same_request_twice_when_staged_then_one_object_and_replay(runtime, store) -> None:
    assert asyncio.run(submit(runtime, "same")) == COMMITTED
    assert asyncio.run(submit(runtime, "same")) == "replay"
    assert len(keys(store, "events")) == 1
    replay = runtime.ledger.lookup(PIXEL, "same")
    assert replay.response["status"] == 200 and replay.response["body"]["event_ids"] == ["same-e"]


def test_given_duplicates_in_one_group_when_staged_then_one_copy(runtime, store) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, "dup") for _ in range(5)))

    outcomes = asyncio.run(scenario())
    assert outcomes.count(COMMITTED) == 1 and set(outcomes) <= {COMMITTED, DUPLICATE, "in_progress"}
    from source_meta_capi.staging.reader import StagingReader

    lines = [line.record for key in keys(store, "events") for line in StagingReader(store).read(key)]
    assert [r["event_id"] for r in lines] == ["dup-e"]


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
    assert asyncio.run(submit(runtime, "flaky")) == COMMITTED
    assert len(keys(store, "events")) == 1


def test_given_claim_failure_when_staged_then_whole_group_abandoned(runtime, store) -> None:
    store.fail_when = lambda key: key.startswith("idempotency/")
    with pytest.raises(GroupAbandonedError):
        asyncio.run(submit(runtime, "noclaim"))
    assert keys(store, "events") == []


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
    assert asyncio.run(submit(runtime, "bad", bad)) == COMMITTED
    assert asyncio.run(submit(runtime, "bad", bad)) == "replay"
    assert len(keys(store, "dead_letters")) == 1 and keys(store, "events") == []
