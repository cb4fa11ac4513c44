"""Group commit: concurrent requests for the same pixel share one events object write.

Each pixel has a lane. A request joins its lane's pending group; while one group is being
written, the next one fills up, so under load one PUT carries many requests (DESIGN.md,
"Throughput"). Requests are claimed first (staging/idempotency.py): a new request claims attempt
1 straight away, and only a request whose claim is lost looks the key up, to replay the original
answer, to wait (409) while the original is in flight, or to claim the next attempt when every
earlier one was abandoned. A group is written in three steps, and every request is answered
only after the write that holds its events succeeded:

1. Claims: every request of the group claims its idempotency key for the group's planned object
   stem, in one store call (`claim_many`): on the local store the claims are created without
   an fsync each and made durable together, on S3 they are concurrent conditional puts; a store
   wrapper without group puts gets one claim per request, in parallel. Either way every claim is
   durable before step 2. A request that loses its claim to a concurrent duplicate is left out
   (and looks the key up). If any claim fails with a store error, the whole group is abandoned
   (503): a claim that may have been written must never point at an object that lacks its
   events, and abandoning is the ledger's crash path (the claims expire after the commit
   deadline).
2. Dead letters of the group's rejected events, as one object (ids are deterministic, so a retry
   after a failure rewrites the same letters rather than new ones).
3. The events object, retried on transient store errors until the commit deadline nears.

Then one "batch staged" log line names the group's requests, and every member is answered.
A request whose events were all rejected has no events object; its claim points at its
dead-letter object instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.receiver.pipeline import Intake
from source_meta_capi.staging.idempotency import ClaimRequest, IdempotencyLedger, LedgerOutcome
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.store import StoreError, StoreUnavailableError
from source_meta_capi.staging.writer import CommitDeadlineExceededError, PlannedObject, StagedObject, StagingWriter

T = TypeVar("T")
COMMITTED = "committed"
REPLAYED = "replayed"
IN_PROGRESS = "in_progress"
# Internal: the claim was lost, the key must be looked up.
_CLAIM_LOST = "claim_lost"
# Attempts abandoned by crashed or timed-out writers are skipped one lookup at a time; more than a
# few in a row means the key is contended, and the caller retries later.
MAX_CLAIM_ROUNDS = 4
# Request ids per "batch staged" line: one line for any usual group, bounded lines for huge ones.
_LOG_REQUESTS_PER_LINE = 200
_LOG_EVENT_IDS_PER_LINE = 200


class GroupAbandonedError(StoreUnavailableError):
    """The group could not be staged; nothing of it is visible. Retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class CommitOutcome:
    """`committed` (with the key of the object holding the events), `replayed` (an earlier
    attempt was accepted: `response` is its answer) or `in_progress` (retry after
    `retry_after_s`)."""

    status: str
    object_key: Optional[str] = None
    group_requests: int = 1
    response: Optional[Mapping[str, Any]] = None
    retry_after_s: int = 0


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
        lookup_retry_after_s: int = 5,
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
        self._lookup_retry_after_s = lookup_retry_after_s
        self._monotonic = monotonic
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, intake: Intake, idempotency_key: str, response: Mapping[str, Any]) -> CommitOutcome:
        """Stage a processed request exactly once; returns once its objects are durable.

        A request with accepted events joins its pixel's group; one whose events were all
        rejected stages its dead letters, claimed the same way, so that a sender retrying the 4xx
        does not dead-letter the same events again. `response` is the answer a retry replays.
        Raises GroupAbandonedError (503) when the store failed; nothing of the request is visible.
        """
        pixel_id = intake.context.pixel_id
        attempt = 1
        for _ in range(MAX_CLAIM_ROUNDS):
            if intake.accepted:
                outcome = await self._join_group(intake, idempotency_key, attempt, response)
            else:
                outcome = await self._commit_rejected(intake, idempotency_key, attempt, response)
            if outcome.status == COMMITTED:
                return outcome
            # The claim was lost: a retry of an accepted request, one still in flight, or an
            # earlier attempt that was abandoned.
            try:
                lookup = await self._io(self._ledger.lookup, pixel_id, idempotency_key)
            except StoreError as error:
                self._metrics.child(self._metrics.store_errors, "lookup").inc()
                raise GroupAbandonedError(
                    f"idempotency lookup failed: {type(error).__name__}", self._lookup_retry_after_s
                ) from error
            if lookup.outcome is LedgerOutcome.REPLAY and lookup.response is not None:
                return CommitOutcome(REPLAYED, response=lookup.response)
            if lookup.outcome is not LedgerOutcome.NEW or lookup.next_attempt <= attempt:
                return CommitOutcome(IN_PROGRESS, retry_after_s=max(1, lookup.retry_after_s))
            attempt = lookup.next_attempt
        return CommitOutcome(IN_PROGRESS, retry_after_s=self._retry_after_s)

    async def _join_group(
        self, intake: Intake, idempotency_key: str, attempt: int, response: Mapping[str, Any]
    ) -> CommitOutcome:
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

    async def _commit_rejected(
        self, intake: Intake, idempotency_key: str, attempt: int, response: Mapping[str, Any]
    ) -> CommitOutcome:
        pixel_id = intake.context.pixel_id
        planned = self._writer.plan(ObjectKind.DEAD_LETTERS, pixel_id)
        try:
            won = await self._io(self._ledger.claim, pixel_id, idempotency_key, attempt, planned.stem, response)
        except StoreUnavailableError as error:
            self._metrics.child(self._metrics.store_errors, "claim").inc()
            raise GroupAbandonedError(f"idempotency claim failed: {error}", self._retry_after_s) from error
        if not won:
            return CommitOutcome(_CLAIM_LOST)
        staged = await self._commit(planned, list(intake.dead_letters), "dead_letters")
        self._count_staged(pixel_id, [intake], 0)
        _log_staged(pixel_id, [intake], staged.key)
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
        claims = await self._claim(pixel_id, group, planned.stem)
        failures = [c for c in claims if isinstance(c, BaseException)]
        if failures:
            self._metrics.child(self._metrics.store_errors, "claim").inc()
            raise GroupAbandonedError(f"idempotency claim failed: {type(failures[0]).__name__}", self._retry_after_s)
        winners = [m for m, won in zip(group, claims, strict=True) if won is True]
        for member, won in zip(group, claims, strict=True):
            if won is not True:
                _resolve(member.future, CommitOutcome(_CLAIM_LOST))
        if not winners:
            return
        intakes = [m.intake for m in winners]
        dead_letters = [letter for intake in intakes for letter in intake.dead_letters]
        if dead_letters:
            await self._commit(self._writer.plan(ObjectKind.DEAD_LETTERS, pixel_id), dead_letters, "dead_letters")
        records = [event.record for intake in intakes for event in intake.accepted]
        staged = await self._commit(planned, records, "events")
        self._count_staged(pixel_id, intakes, len(records))
        self._metrics.group_commit_requests.observe(len(winners))
        self._metrics.commit_seconds.observe(self._monotonic() - started)
        _log_staged(pixel_id, intakes, staged.key)
        outcome = CommitOutcome(COMMITTED, staged.key, len(winners))
        for member in winners:
            _resolve(member.future, outcome)

    async def _claim(self, pixel_id: str, group: Sequence[_Member], stem: str) -> Sequence[bool | BaseException]:
        """Every member's claim, durable when this returns; an exception per failed claim."""
        if self._ledger.claims_in_groups:
            requests = [ClaimRequest(m.idempotency_key, m.attempt, m.response) for m in group]
            try:
                return await self._io(self._ledger.claim_many, pixel_id, requests, stem)
            except StoreError as error:
                return [error] * len(group)
        return await asyncio.gather(
            *(self._io(self._ledger.claim, pixel_id, m.idempotency_key, m.attempt, stem, m.response) for m in group),
            return_exceptions=True,
        )

    async def _commit(self, planned: PlannedObject, records: Sequence[Mapping[str, Any]], kind: str) -> StagedObject:
        """Commit with retries on transient errors; the same key and content make a retry idempotent."""
        delay = 0.05
        while True:
            try:
                staged = await self._io(self._writer.commit, planned, records)
                self._metrics.child(self._metrics.objects_staged, kind).inc()
                return staged
            except CommitDeadlineExceededError as error:
                self._metrics.child(self._metrics.store_errors, f"commit_{kind}").inc()
                raise GroupAbandonedError(str(error), self._retry_after_s) from error
            except StoreUnavailableError as error:
                self._metrics.child(self._metrics.store_errors, f"commit_{kind}").inc()
                elapsed = self._monotonic() - planned.started_monotonic
                if elapsed + delay > self._writer.commit_deadline_s / 2:
                    raise GroupAbandonedError(f"staging {kind} failed: {error}", self._retry_after_s) from error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _count_staged(self, pixel_id: str, intakes: Sequence[Intake], records: int) -> None:
        """The per-pixel counters, once per group rather than once per request."""
        metrics = self._metrics
        metrics.child(metrics.events_received, pixel_id).inc(sum(intake.events_received for intake in intakes))
        accepted = sum(len(intake.accepted) for intake in intakes)
        metrics.child(metrics.events_accepted, pixel_id).inc(accepted)
        warnings = Counter(kind for intake in intakes for event in intake.accepted for kind in event.warning_kinds)
        for kind, count in warnings.items():
            metrics.child(metrics.normalization_warnings, pixel_id, kind).inc(count)
        if records:
            metrics.child(metrics.events_staged, pixel_id).inc(records)
        letters = sum(len(intake.dead_letters) for intake in intakes)
        if letters:
            metrics.child(metrics.dead_letters, pixel_id, "intake").inc(letters)

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _log_staged(pixel_id: str, intakes: Sequence[Intake], object_key: str) -> None:
    """One "batch staged" line per group (a very large group is split over a few lines).

    It names every request of the group (request, batch and webhook ids), so a request id still
    leads to the object that holds its events; rejections and errors keep a line per request.
    """
    for start in range(0, len(intakes), _LOG_REQUESTS_PER_LINE):
        part = intakes[start : start + _LOG_REQUESTS_PER_LINE]
        contexts = [intake.context for intake in part]
        statuses = sorted({context.signature_status for context in contexts})
        log(
            logging.INFO,
            "batch staged",
            max_ids=max(_LOG_REQUESTS_PER_LINE, _LOG_EVENT_IDS_PER_LINE),
            pixel_id=pixel_id,
            object_key=object_key,
            group_requests=len(part),
            request_ids=[context.request_id for context in contexts],
            batch_ids=[context.batch_id for context in contexts],
            webhook_ids=[context.webhook_id for context in contexts if context.webhook_id is not None] or None,
            signature_status=",".join(statuses),
            events=sum(intake.events_received for intake in part),
            accepted=sum(len(intake.accepted) for intake in part),
            rejected=sum(len(intake.dead_letters) for intake in part),
            event_ids=[event.event_id for intake in part for event in intake.accepted][:_LOG_EVENT_IDS_PER_LINE],
        )


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
