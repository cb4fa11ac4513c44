"""Group commit: concurrent requests for the same pixel share one events object write.

Each pixel has a lane. A request joins its lane's pending group; while one group is being
written, the next one fills up, so under load one PUT carries many requests (DESIGN.md,
"Throughput"). A group is written in three steps, and every request is answered only after the
write that holds its events succeeded:

1. Claims: each request claims its idempotency key for the group's planned object stem
   (staging/idempotency.py protocol), in parallel. A request that loses its claim to a
   concurrent duplicate is left out and told so (the caller looks the key up again).
   If any claim fails with a store error, the whole group is abandoned (503): a claim that may
   have been written must never point at an object that lacks its events, and abandoning is the
   ledger's crash path (the claims expire after the commit deadline).
2. Dead letters of the group's rejected events, as one object (ids are deterministic, so a retry
   after a failure rewrites the same letters rather than new ones).
3. The events object, retried on transient store errors until the commit deadline nears.

A request whose events were all rejected has no events object; its claim points at its
dead-letter object instead (`commit_rejected`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.receiver.pipeline import Intake
from source_meta_capi.staging.idempotency import IdempotencyLedger
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.store import StoreUnavailableError
from source_meta_capi.staging.writer import CommitDeadlineExceededError, PlannedObject, StagedObject, StagingWriter

T = TypeVar("T")
COMMITTED = "committed"
DUPLICATE = "duplicate"


class GroupAbandonedError(StoreUnavailableError):
    """The group could not be staged; nothing of it is visible. Retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class CommitOutcome:
    """`committed` (with the key of the object holding the events) or `duplicate` (claim lost)."""

    status: str
    object_key: Optional[str] = None
    group_requests: int = 1


@dataclass
class _Member:
    intake: Intake
    idempotency_key: str
    attempt: int
    response: Mapping[str, Any]
    future: asyncio.Future[CommitOutcome]

    @property
    def event_count(self) -> int:
        return max(1, len(self.intake.accepted))


@dataclass
class _Lane:
    pending: list[_Member] = field(default_factory=list)
    running: bool = False


class GroupCommitter:
    """Stages accepted requests durably, sharing object writes between concurrent requests."""

    def __init__(
        self,
        writer: StagingWriter,
        ledger: IdempotencyLedger,
        executor: Executor,
        metrics: ReceiverMetrics,
        *,
        max_events: int = 5000,
        linger_s: float = 0.0,
        retry_after_s: int = 60,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._ledger = ledger
        self._executor = executor
        self._metrics = metrics
        self._max_events = max_events
        self._linger_s = linger_s
        # A claimed-but-abandoned attempt blocks its key until the ledger's in-flight window ends.
        self._retry_after_s = retry_after_s
        self._monotonic = monotonic
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(
        self, intake: Intake, idempotency_key: str, attempt: int, response: Mapping[str, Any]
    ) -> CommitOutcome:
        """Stage a request with accepted events; returns once its group's object is durable.

        Raises GroupAbandonedError (503) when the store failed; nothing of the group is visible.
        """
        loop = asyncio.get_running_loop()
        member = _Member(intake, idempotency_key, attempt, response, loop.create_future())
        pixel_id = intake.context.pixel_id
        lane = self._lanes.setdefault(pixel_id, _Lane())
        lane.pending.append(member)
        if not lane.running:
            lane.running = True
            task = loop.create_task(self._drain(pixel_id, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that disconnects must not cancel the answer other code resolves.
        return await asyncio.shield(member.future)

    async def commit_rejected(
        self, intake: Intake, idempotency_key: str, attempt: int, response: Mapping[str, Any]
    ) -> CommitOutcome:
        """Stage the dead letters of a request whose events were all rejected, claimed like a batch,
        so that a sender retrying the 4xx does not dead-letter the same events again."""
        pixel_id = intake.context.pixel_id
        planned = self._writer.plan(ObjectKind.DEAD_LETTERS, pixel_id)
        try:
            won = await self._io(self._ledger.claim, pixel_id, idempotency_key, attempt, planned.stem, response)
        except StoreUnavailableError as error:
            self._metrics.store_errors.labels("claim").inc()
            raise GroupAbandonedError(f"idempotency claim failed: {error}", self._retry_after_s) from error
        if not won:
            return CommitOutcome(DUPLICATE)
        staged = await self._commit(planned, list(intake.dead_letters), "dead_letters")
        self._count_dead_letters([intake])
        return CommitOutcome(COMMITTED, staged.key)

    async def _drain(self, pixel_id: str, lane: _Lane) -> None:
        try:
            while lane.pending:
                if self._linger_s > 0:
                    await asyncio.sleep(self._linger_s)
                group = _take(lane.pending, self._max_events)
                try:
                    await self._commit_group(pixel_id, group)
                except BaseException as error:  # every waiting request must get an answer
                    for member in group:
                        if not member.future.done():
                            member.future.set_exception(
                                error
                                if isinstance(error, GroupAbandonedError)
                                else GroupAbandonedError(f"staging failed: {type(error).__name__}", self._retry_after_s)
                            )
                    if not isinstance(error, Exception):
                        raise
        finally:
            lane.running = False
            if not lane.pending and self._lanes.get(pixel_id) is lane:
                del self._lanes[pixel_id]

    async def _commit_group(self, pixel_id: str, group: list[_Member]) -> None:
        started = self._monotonic()
        planned = self._writer.plan(ObjectKind.EVENTS, pixel_id)
        claims = await asyncio.gather(
            *(
                self._io(self._ledger.claim, pixel_id, m.idempotency_key, m.attempt, planned.stem, m.response)
                for m in group
            ),
            return_exceptions=True,
        )
        failures = [c for c in claims if isinstance(c, BaseException)]
        if failures:
            self._metrics.store_errors.labels("claim").inc()
            raise GroupAbandonedError(f"idempotency claim failed: {type(failures[0]).__name__}", self._retry_after_s)
        winners = [m for m, won in zip(group, claims, strict=True) if won is True]
        for member, won in zip(group, claims, strict=True):
            if won is not True:
                _resolve(member.future, CommitOutcome(DUPLICATE))
        if not winners:
            return
        dead_letters = [letter for m in winners for letter in m.intake.dead_letters]
        if dead_letters:
            await self._commit(self._writer.plan(ObjectKind.DEAD_LETTERS, pixel_id), dead_letters, "dead_letters")
        records = [event.record for m in winners for event in m.intake.accepted]
        staged = await self._commit(planned, records, "events")
        self._count_dead_letters([m.intake for m in winners])
        self._metrics.events_staged.labels(pixel_id).inc(len(records))
        self._metrics.group_commit_requests.observe(len(winners))
        self._metrics.commit_seconds.observe(self._monotonic() - started)
        outcome = CommitOutcome(COMMITTED, staged.key, len(winners))
        for member in winners:
            _resolve(member.future, outcome)

    async def _commit(self, planned: PlannedObject, records: Sequence[Mapping[str, Any]], kind: str) -> StagedObject:
        """Commit with retries on transient errors; the same key and content make a retry idempotent."""
        delay = 0.05
        while True:
            try:
                staged = await self._io(self._writer.commit, planned, records)
                self._metrics.objects_staged.labels(kind).inc()
                return staged
            except CommitDeadlineExceededError as error:
                self._metrics.store_errors.labels(f"commit_{kind}").inc()
                raise GroupAbandonedError(str(error), self._retry_after_s) from error
            except StoreUnavailableError as error:
                self._metrics.store_errors.labels(f"commit_{kind}").inc()
                elapsed = self._monotonic() - planned.started_monotonic
                if elapsed + delay > self._writer.commit_deadline_s / 2:
                    raise GroupAbandonedError(f"staging {kind} failed: {error}", self._retry_after_s) from error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _count_dead_letters(self, intakes: Sequence[Intake]) -> None:
        for intake in intakes:
            if intake.dead_letters:
                self._metrics.dead_letters.labels(intake.context.pixel_id, "intake").inc(len(intake.dead_letters))

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _resolve(future: asyncio.Future[CommitOutcome], outcome: CommitOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _take(pending: list[_Member], max_events: int) -> list[_Member]:
    """The oldest pending members whose events fit in one object (always at least one)."""
    taken, total = 0, 0
    for member in pending:
        if taken and total + member.event_count > max_events:
            break
        taken += 1
        total += member.event_count
    group = pending[:taken]
    del pending[:taken]
    return group
