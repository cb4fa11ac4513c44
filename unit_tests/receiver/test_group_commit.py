"""Group commit without claims: shared writes, at most two objects per group and none per
request, records encoded before joining, retries staged again harmlessly, nothing half-written."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator, Optional

import pytest

from source_meta_capi.capi import payload_limits
from source_meta_capi.receiver.group_commit import COMMITTED, GroupAbandonedError
from source_meta_capi.receiver.pipeline import RequestContext, body_digest, new_batch_id, process
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import StoreUnavailableError

NOW = 1_795_000_000
PIXEL = "555"


class SpyStore(LocalFolderStore):
    """A local store that records every call and fails puts while `fail_when(key)` is true."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.fail_when: Callable[[str], bool] = lambda key: False
        self.calls: list[tuple[str, str]] = []

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.calls.append(("put", key))
        if self.fail_when(key):
            raise StoreUnavailableError(f"injected failure writing {key}")
        return super().put_if_absent(key, data)

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        self.calls.append(("list", prefix))
        return super().list_keys(prefix, start_after)

    def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return super().get(key)


@pytest.fixture
def store(tmp_path) -> SpyStore:
    return SpyStore(str(tmp_path / "bucket"))


@pytest.fixture
def runtime(store) -> Iterator:
    rt = build_runtime(
        ReceiverSettings(staging_url=str(store.root), forward_mode="off", commit_deadline_s=5),
        store=store,
        utc_clock=lambda: datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc),
    )
    yield rt
    rt.close()


def event(event_id: str, **changes) -> dict:
    return {
        "event_name": "Lead",
        "event_time": NOW - 5,
        "event_id": event_id,
        "action_source": "email",
        "user_data": {"em": "a@b.co"},
        **changes,
    }


def intake_for(key: str, events: Optional[list] = None):
    body = {"data": events or [event(f"{key}-e")]}
    raw = json.dumps(body).encode()
    context = RequestContext(
        PIXEL, f"r-{key}", new_batch_id(), "unsigned", webhook_id=key, body_digest=body_digest(raw)
    )
    return process(body, context, NOW)


async def submit(rt, key: str, events: Optional[list] = None):
    return await rt.committer.submit(intake_for(key, events))


def keys(store: LocalFolderStore, area: str) -> list[str]:
    return list(LocalFolderStore(str(store.root)).list_keys(f"{area}/"))


def staged(store: LocalFolderStore, area: str = "events") -> list[dict]:
    plain = LocalFolderStore(str(store.root))
    return [line.record for key in keys(store, area) for line in StagingReader(plain).read(key)]


def staged_event_ids(store: LocalFolderStore) -> list[str]:
    return sorted(record["event_id"] for record in staged(store))


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def test_given_new_request_when_submitted_then_one_put_and_no_lookup(runtime, store) -> None:
    outcome = asyncio.run(submit(runtime, "fresh"))
    assert outcome.status == COMMITTED and outcome.object_key.startswith("events/")
    assert [op for op, _ in store.calls] == ["put"]  # the events object, nothing per request


def test_given_concurrent_requests_when_staged_then_they_share_object_writes(runtime, store) -> None:
    async def scenario():
        return await asyncio.gather(*(submit(runtime, f"k{i}") for i in range(40)))

    outcomes = asyncio.run(scenario())
    assert [o.status for o in outcomes] == [COMMITTED] * 40
    objects = keys(store, "events")
    assert 1 <= len(objects) < 40
    assert [op for op, _ in store.calls] == ["put"] * len(objects)
    assert keys(store, "idempotency") == []
    assert staged_event_ids(store) == sorted(f"k{i}-e" for i in range(40))
    assert {record["schema_version"] for record in staged(store)} == {2}


def test_given_same_request_twice_when_staged_then_staged_again_with_same_identity_and_new_batch(
    runtime, store
) -> None:
    first = asyncio.run(submit(runtime, "same"))
    again = asyncio.run(submit(runtime, "same"))
    assert first.status == again.status == COMMITTED
    records = staged(store)
    assert [(r["event_id"], r["event_time"]) for r in records] == [("same-e", NOW - 5)] * 2
    assert records[0]["batch_id"] != records[1]["batch_id"]


def test_given_reused_webhook_id_with_other_body_when_staged_then_both_bodies_staged(runtime, store) -> None:
    asyncio.run(submit(runtime, "counter-1", [event("first")]))
    asyncio.run(submit(runtime, "counter-1", [event("second")]))
    assert staged_event_ids(store) == ["first", "second"]


def test_given_unencodable_event_when_processed_then_refused_alone_and_neighbours_staged(
    runtime, store, monkeypatch
) -> None:
    # Validation's depth limit (capi/payload_limits.py) refuses such an event first; lifted here
    # so the encoder's own guard, the backstop behind it, is what refuses it.
    monkeypatch.setattr(payload_limits, "MAX_NESTING_DEPTH", 10_000)
    events = [event("good"), event("deep", custom_data={"value": 1, "currency": "USD", "x": nested(300)})]
    intake = intake_for("mixed", events)
    assert [e.event_id for e in intake.accepted] == ["good"]
    (rejection,) = intake.rejections
    assert rejection.event_id == "deep" and rejection.field == "custom_data" and "nested" in rejection.reason
    assert asyncio.run(runtime.committer.submit(intake)).status == COMMITTED
    assert staged_event_ids(store) == ["good"]
    (letter,) = staged(store, "dead_letters")
    assert letter["event_id"] == "deep" and letter["event"] == {
        "fields": ["action_source", "custom_data", "event_id", "event_name", "event_time", "user_data"]
    }


def test_given_unencodable_request_in_a_group_when_committed_then_other_members_commit(runtime, store) -> None:
    async def scenario():
        deep = [event("deep", custom_data={"x": nested(400)})]
        return await asyncio.gather(
            *(submit(runtime, f"g{i}") for i in range(5)), submit(runtime, "bad", deep), submit(runtime, "g5")
        )

    assert {o.status for o in asyncio.run(scenario())} == {COMMITTED}
    assert staged_event_ids(store) == sorted(f"g{i}-e" for i in range(6))
    assert [letter["event_id"] for letter in staged(store, "dead_letters")] == ["deep"]


def test_given_group_with_rejections_when_committed_then_one_letters_object_before_events(runtime, store) -> None:
    async def scenario():
        late = [event("late", event_time=NOW - 9 * 86400)]
        return await asyncio.gather(*(submit(runtime, f"r{i}") for i in range(6)), submit(runtime, "bad", late))

    asyncio.run(scenario())
    puts = [key.split("/", 1)[0] for op, key in store.calls if op == "put"]
    assert puts.count("dead_letters") == 1 and puts[0] == "dead_letters"
    assert puts.count("events") == len(keys(store, "events"))


def test_given_all_events_rejected_when_retried_then_same_dead_letter_ids(runtime, store) -> None:
    bad = [event("late", event_time=NOW - 9 * 86400)]
    assert asyncio.run(submit(runtime, "bad", bad)).status == COMMITTED
    assert asyncio.run(submit(runtime, "bad", bad)).status == COMMITTED
    letters = staged(store, "dead_letters")
    assert keys(store, "events") == [] and len(letters) == 2
    assert letters[0]["dead_letter_id"] == letters[1]["dead_letter_id"]
    assert letters[0]["batch_id"] != letters[1]["batch_id"]
    other = asyncio.run(submit(runtime, "bad", [event("late", event_time=NOW - 8 * 86400)]))
    assert other.status == COMMITTED
    assert len({letter["dead_letter_id"] for letter in staged(store, "dead_letters")}) == 2


def test_given_events_put_fails_when_staged_then_abandoned_and_nothing_visible(runtime, store) -> None:
    store.fail_when = lambda key: key.startswith("events/")
    with pytest.raises(GroupAbandonedError) as raised:
        asyncio.run(submit(runtime, "fails"))
    assert raised.value.retry_after_s == runtime.retry_after_s
    assert keys(store, "events") == []
    store.fail_when = lambda key: False
    assert asyncio.run(submit(runtime, "fails")).status == COMMITTED
    assert staged_event_ids(store) == ["fails-e"]


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


class SlowStore(SpyStore):
    """A store whose puts take `put_s` (in the committer's I/O thread, like a real S3 PUT)."""

    def __init__(self, root: str, put_s: float) -> None:
        super().__init__(root)
        self.put_s = put_s

    def put_if_absent(self, key: str, data: bytes) -> bool:
        time.sleep(self.put_s)
        return super().put_if_absent(key, data)


@contextmanager
def slow_runtime(tmp_path, *, put_s: float = 0.005, rejoin_ms: int = 10, **settings) -> Iterator:
    store = SlowStore(str(tmp_path / "slow-bucket"), put_s)
    rt = build_runtime(
        ReceiverSettings(
            staging_url=str(store.root),
            forward_mode="off",
            commit_deadline_s=5,
            group_commit_rejoin_ms=rejoin_ms,
            **settings,
        ),
        store=store,
    )
    try:
        yield rt
    finally:
        rt.close()


async def closed_loop(rt, senders: int, rounds: int) -> list[int]:
    """`senders` clients each sending `rounds` requests, each waiting for its answer before the next;
    returns the group size of every events object, in commit order. Answered senders come back
    one after another (a server reads their next requests in turn), 0.3 ms apart."""
    groups: dict[str, int] = {}

    async def sender(index: int) -> None:
        for round_ in range(rounds):
            outcome = await submit(rt, f"s{index}-{round_}")
            groups[outcome.object_key] = outcome.group_requests
            await asyncio.sleep(index * 0.0003)

    await asyncio.gather(*(sender(i) for i in range(senders)))
    return list(groups.values())


def test_given_closed_loop_senders_when_rejoin_wait_on_then_answered_members_rejoin_one_group(tmp_path) -> None:
    with slow_runtime(tmp_path, rejoin_ms=200) as rt:
        groups = asyncio.run(closed_loop(rt, senders=32, rounds=6))
    assert sum(groups) == 32 * 6
    # The first group is whoever came first; from then on every group holds all 32 senders.
    assert groups[1:] == [32] * (len(groups) - 1), groups


def test_given_closed_loop_senders_when_rejoin_wait_off_then_they_split_into_smaller_groups(tmp_path) -> None:
    with slow_runtime(tmp_path, rejoin_ms=0) as rt:
        groups = asyncio.run(closed_loop(rt, senders=32, rounds=6))
    assert sum(groups) == 32 * 6
    assert max(groups[1:]) < 32, groups  # what the wait is for


def test_given_lone_sender_when_rejoin_wait_on_then_its_commits_are_not_delayed(tmp_path) -> None:
    async def lone() -> list[float]:
        timings = []
        for round_ in range(5):
            began = time.monotonic()
            outcome = await submit(rt, f"lone-{round_}")
            timings.append(time.monotonic() - began)
            assert outcome.group_requests == 1
        return timings

    with slow_runtime(tmp_path, put_s=0.0, rejoin_ms=2000) as rt:
        timings = asyncio.run(lone())
        assert rt.committer._lanes == {}  # the lane ended after each commit: nothing waits
    assert max(timings) < 1.0, timings  # far below the 2 s cap


def test_given_members_that_do_not_return_when_rejoin_wait_on_then_the_cap_bounds_the_wait(tmp_path) -> None:
    cap_s = 0.3

    async def scenario() -> tuple[float, list[int]]:
        first = asyncio.gather(*(submit(rt, f"a{i}") for i in range(4)))
        await asyncio.sleep(0)
        late = asyncio.ensure_future(submit(rt, "late"))  # pending while the first group is written
        outcomes = await first
        answered = time.monotonic()
        last = await late  # the 4 answered members never come back: only the cap ends the wait
        return time.monotonic() - answered, [o.group_requests for o in (*outcomes, last)]

    with slow_runtime(tmp_path, put_s=0.02, rejoin_ms=int(cap_s * 1000)) as rt:
        waited, groups = asyncio.run(scenario())
    assert groups == [4, 4, 4, 4, 1]
    assert cap_s * 0.9 <= waited < cap_s + 1.0, waited


def test_given_rejoin_wait_when_next_group_is_full_then_it_is_taken_at_once(tmp_path) -> None:
    big = [event(f"big-{i}") for i in range(1000)]

    async def scenario() -> tuple[float, list[int]]:
        first = asyncio.gather(*(submit(rt, f"b{i}") for i in range(3)))
        await asyncio.sleep(0)
        full = asyncio.ensure_future(submit(rt, "full", big))  # the max_events of a group, pending
        outcomes = await first
        answered = time.monotonic()
        last = await full
        return time.monotonic() - answered, [o.group_requests for o in (*outcomes, last)]

    with slow_runtime(tmp_path, put_s=0.02, rejoin_ms=5000, group_commit_max_events=1000) as rt:
        waited, groups = asyncio.run(scenario())
    assert groups == [3, 3, 3, 1]
    assert waited < 2.0, waited  # not the 5 s cap: a full group has no room for returning members


def test_given_rejoin_wait_when_more_requests_return_than_fit_then_groups_hold_at_most_max_events(tmp_path) -> None:
    with slow_runtime(tmp_path, rejoin_ms=200, group_commit_max_events=1000) as rt:

        async def scenario() -> list[int]:
            sizes: list[int] = []

            async def sender(index: int) -> None:
                for round_ in range(3):
                    events = [event(f"m{index}-{round_}-{i}") for i in range(300)]
                    outcome = await submit(rt, f"m{index}-{round_}", events)
                    sizes.append(outcome.group_requests)

            await asyncio.gather(*(sender(i) for i in range(8)))
            return sizes

        sizes = asyncio.run(scenario())
    assert max(sizes) <= 3  # 3 × 300 events fit in 1,000; a fourth would not
