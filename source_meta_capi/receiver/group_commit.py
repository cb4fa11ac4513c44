"""Group commit: concurrent requests for the same pixel share one events object write.

Each pixel has a lane. A request joins its lane's pending group; while one group is being
written, the next one fills up, so under load one PUT carries many requests (DESIGN.md,
"Throughput"). Nothing is written per request: a group commit writes at most two objects, in
this order, and every member is answered only after both are durable:

1. the dead letters of the group's rejected events, as one object (ids derive from content, so
   a retry after a crash rewrites the same letters rather than new ones);
2. the events object, retried on transient store errors until the commit deadline nears.

Records arrive encoded (pipeline.py encodes each event when its request is processed, and
refuses the one that cannot be encoded), so a group only joins lines and compresses them once:
no member's data can fail its neighbours, and only a store failure abandons a group (503 for its
members, nothing of it relied on). A request whose events were all rejected joins the group too
(its letters go into the group's dead-letters object).

Retries are not looked up: a retried request is processed and staged again, under a new batch
id, with the same event identities (staging-format.md, "Retries are safe"). That is what lets a
group cost one or two PUTs whatever the number of requests in it.

Then one "batch staged" log line names the group's requests.

Rejoin wait. Senders that wait for their answer before sending again (closed loop, e.g. a
server-side tag firing request after request) otherwise split into two alternating halves: while
group A is written, the other senders fill group B; A's members are answered and come straight
back, but B is already taken, so they fill the group after it, and so on — with 32 senders every
group holds ~16 requests, whatever the store's speed. So after a commit answers n members, the
lane takes its next group only once n more requests have arrived (those members coming back) or
`rejoin_s` after the answers, whichever comes first; an arrival wakes the lane, it does not poll.
The wait also applies when nothing was pending at the end of the commit: otherwise the first
member back would start a group of its own while the others gather behind it, and groups would
alternate between ~32 and a handful (the same two PUTs per ~32 requests). A lone sender never
waits (n = 1 and nothing pending: its lane ends with the commit, as without the wait), and
neither does a lane whose next group is already full (`max_events`). The cost is bounded by
`rejoin_s` and paid only where requests were pending at the end of a commit or a group of several
was just answered: under open-loop load (requests that do not wait for their answers) the
arrivals awaited are not the members answered, and the wait acts as a linger of at most
`rejoin_s` — fewer writes for that much more latency, the trade a linger makes. Unlike a linger,
it is not paid by a lane that had only one request in flight. The wait comes before a group is
planned, so the commit deadline does not run during it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.receiver.pipeline import Intake
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.records import encode_line
from source_meta_capi.staging.store import StoreUnavailableError
from source_meta_capi.staging.writer import CommitDeadlineExceededError, PlannedObject, StagedObject, StagingWriter

T = TypeVar("T")
COMMITTED = "committed"
# Request ids per "batch staged" line: one line for any usual group, bounded lines for huge ones.
_LOG_REQUESTS_PER_LINE = 200
_LOG_EVENT_IDS_PER_LINE = 200


class GroupAbandonedError(StoreUnavailableError):
    """The group could not be staged; nothing of it may be relied on. Retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class CommitOutcome:
    """`committed`, with the key of the object holding the request's events (or, when all were
    rejected, its dead letters) and the number of requests that shared the group."""

    status: str
    object_key: Optional[str] = None
    group_requests: int = 1


@dataclass
class _Member:
    intake: Intake
    event_lines: list[bytes]
    letter_lines: list[bytes]
    future: asyncio.Future[CommitOutcome]

    @property
    def event_count(self) -> int:
        return max(1, len(self.event_lines))


@dataclass
class _Lane:
    pending: list[_Member] = field(default_factory=list)
    pending_events: int = 0
    running: bool = False
    # While the drain waits for answered members to come back: the arrivals still awaited, and
    # the future that an arrival (or the cap's timer) resolves.
    awaited: int = 0
    rejoined: Optional[asyncio.Future[None]] = None


class GroupCommitter:
    """Stages processed requests durably, sharing object writes between concurrent requests."""

    def __init__(
        self,
        writer: StagingWriter,
        executor: Executor,
        metrics: ReceiverMetrics,
        *,
        max_events: int = 5000,
        linger_s: float = 0.0,
        rejoin_s: float = 0.0,
        retry_after_s: int = 60,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._executor = executor
        self._metrics = metrics
        self._max_events = max_events
        self._linger_s = linger_s
        self._rejoin_s = rejoin_s
        self._retry_after_s = retry_after_s
        self._monotonic = monotonic
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, intake: Intake) -> CommitOutcome:
        """Stage a processed request (accepted events and dead letters); returns once durable.

        Raises GroupAbandonedError (503) when the store failed.
        """
        event_lines = [event.line or encode_line(event.record) for event in intake.accepted]
        letter_lines = list(intake.dead_letter_lines) or [encode_line(letter) for letter in intake.dead_letters]
        if not event_lines and not letter_lines:
            return CommitOutcome(COMMITTED)
        loop = asyncio.get_running_loop()
        member = _Member(intake, event_lines, letter_lines, loop.create_future())
        pixel_id = intake.context.pixel_id
        lane = self._lanes.setdefault(pixel_id, _Lane())
        lane.pending.append(member)
        lane.pending_events += member.event_count
        if lane.rejoined is not None:
            lane.awaited -= 1
            if lane.awaited <= 0 or lane.pending_events >= self._max_events:
                _wake(lane.rejoined)
        if not lane.running:
            lane.running = True
            task = loop.create_task(self._drain(pixel_id, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that disconnects must not cancel the answer other code resolves.
        return await asyncio.shield(member.future)

    async def _drain(self, pixel_id: str, lane: _Lane) -> None:
        try:
            while lane.pending:
                if self._linger_s > 0:
                    await asyncio.sleep(self._linger_s)
                group = _take(lane.pending, self._max_events)
                lane.pending_events -= sum(member.event_count for member in group)
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
                else:
                    # Not after a failure: its members were told to retry much later.
                    await self._await_rejoin(lane, len(group))
        finally:
            lane.running = False
            if not lane.pending and self._lanes.get(pixel_id) is lane:
                del self._lanes[pixel_id]

    async def _await_rejoin(self, lane: _Lane, answered: int) -> None:
        """Wait until `answered` more requests have arrived, the next group is full, or `rejoin_s`."""
        if self._rejoin_s <= 0 or (answered <= 1 and not lane.pending):
            return  # nothing to gather: a lone sender's lane ends at once, as without the wait
        if lane.pending_events >= self._max_events:
            return
        loop = asyncio.get_running_loop()
        lane.awaited = answered
        lane.rejoined = loop.create_future()
        timer = loop.call_later(self._rejoin_s, _wake, lane.rejoined)
        try:
            await lane.rejoined
        finally:
            timer.cancel()
            lane.rejoined = None

    async def _commit_group(self, pixel_id: str, group: list[_Member]) -> None:
        started = self._monotonic()
        event_lines = [line for member in group for line in member.event_lines]
        letter_lines = [line for member in group for line in member.letter_lines]
        # Planned (arrival stamped, deadline started) before anything is written.
        events_planned = self._writer.plan(ObjectKind.EVENTS, pixel_id) if event_lines else None
        staged: Optional[StagedObject] = None
        if letter_lines:
            # Before the events: a crash between the two leaves letters that the retry writes
            # again under the same ids (deduplicated), rather than events without their letters.
            planned = self._writer.plan(ObjectKind.DEAD_LETTERS, pixel_id)
            staged = await self._commit(planned, letter_lines, "dead_letters")
        if events_planned is not None:
            staged = await self._commit(events_planned, event_lines, "events")
        assert staged is not None
        intakes = [member.intake for member in group]
        self._count_staged(pixel_id, intakes, len(event_lines))
        self._metrics.group_commit_requests.observe(len(group))
        self._metrics.commit_seconds.observe(self._monotonic() - started)
        _log_staged(pixel_id, intakes, staged.key)
        outcome = CommitOutcome(COMMITTED, staged.key, len(group))
        for member in group:
            _resolve(member.future, outcome)

    async def _commit(self, planned: PlannedObject, lines: Sequence[bytes], kind: str) -> StagedObject:
        """Commit with retries on transient errors; the same key and content make a retry idempotent."""
        delay = 0.05
        while True:
            try:
                staged = await self._io(self._writer.commit_lines, planned, lines)
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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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
