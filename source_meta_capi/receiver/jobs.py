"""The batch jobs: `meta-capi-receiver redrive` and `meta-capi-receiver reconcile`.

Both are idempotent and safe to run concurrently with receivers and with each other.

**redrive** finishes delivery of what the receiver accepted:
1. Staged batches whose delivery is not final (events neither delivered nor dead-lettered: a
   crash before forwarding, a deferred inline send, a full background queue, forward mode off)
   are sent again, only their pending events, from the staged copy.
2. Replayable dead letters (retry budget exhausted, token failures) whose event was not
   delivered since are replayed from the letter's copy, without writing new letters on failure.
Never duplicating what Meta received: events a status shows as delivered, in this batch or in
another batch holding a copy (a retried request is staged again under a new batch id), are never
resent, and a copy is sent at most once per run; a batch is only touched under a lease (leases.py) granted after every earlier forwarder of it
finished, and only once it is older than the receiver's own forwarding window; events whose
first uncertain attempt (timeout, 5xx) is older than Meta's 48 h dedup window are dead-lettered
instead of resent, and events outside Meta's 7-day (62 for physical_store) window expire.

**reconcile** reports per pixel and arrival hour: staged vs forwarded vs delivered (accepted by
Meta) vs dead-lettered vs pending. Read-only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from source_meta_capi.capi.event_fields import SERVER_EVENT_FIELDS
from source_meta_capi.capi.event_validation import MAX_EVENT_AGE_SECONDS, MAX_PHYSICAL_STORE_AGE_SECONDS
from source_meta_capi.receiver.dead_letters import STAGE_EXPIRED, delivery_dead_letter
from source_meta_capi.receiver.delivery_state import BatchState, pixels_in, scan_pixel
from source_meta_capi.receiver.forwarding import ForwardBatch
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.leases import LeaseBook
from source_meta_capi.receiver.runtime import ReceiverRuntime
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.reader import StagingReader

DEDUP_WINDOW = timedelta(hours=47)  # Meta dedups event_name + event_id for 48 h (§5); 1 h margin
SEND_MARGIN_S = 3600  # do not start sending an event within an hour of it leaving Meta's window
DEFAULT_WINDOW_DAYS = 8


@dataclass
class RedriveReport:
    """Counts of one redrive run."""

    batches_sent: int = 0
    events_sent: int = 0
    letters_replayed: int = 0
    delivered: int = 0
    expired: int = 0
    skipped_leased: int = 0
    skipped_no_token: int = 0
    unreplayable: int = 0
    pixels: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def redrive(
    runtime: ReceiverRuntime,
    *,
    pixels: Optional[Iterable[str]] = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    dry_run: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> RedriveReport:
    """Send what is pending and replay replayable dead letters; see the module docstring."""
    settings = runtime.settings
    reader = StagingReader(runtime.store)
    leases = LeaseBook(runtime.store, clock)
    report = RedriveReport()
    # The receiver's own forwarding of a batch ends within this; younger batches are left to it.
    min_age = max(
        settings.redrive_min_age_s,
        settings.forward_max_start_age_s + settings.forward_batch_deadline_s + settings.commit_deadline_s + 60,
    )
    lease_s = settings.forward_batch_deadline_s + settings.commit_deadline_s + 30
    for pixel_id in sorted(pixels) if pixels else pixels_in(reader):
        if not runtime.forwarder.has_token(pixel_id):
            report.skipped_no_token += 1
            continue
        report.pixels.append(pixel_id)
        scan_started = clock()
        batches = scan_pixel(
            reader, pixel_id, scan_started - timedelta(days=window_days), scan_started - timedelta(seconds=min_age)
        )
        sent: set[tuple[Any, str]] = set()  # (event_name, event_id) sent by this run for the pixel
        for state in batches.values():
            _redrive_batch(runtime, state, leases, report, scan_started, lease_s, dry_run, sent)
    log(logging.INFO, "redrive finished", count=report.events_sent, delivered=report.delivered)
    return report


def _redrive_batch(
    runtime: ReceiverRuntime,
    state: BatchState,
    leases: LeaseBook,
    report: RedriveReport,
    now: datetime,
    lease_s: float,
    dry_run: bool,
    sent: set[tuple[Any, str]],
) -> None:
    # Copies of one event in several batches (retries) go out once per run.
    pending = [state.events[i] for i in state.pending_ids if (state.events[i].get("event_name"), i) not in sent]
    sent.update((event.get("event_name"), str(event.get("event_id"))) for event in pending)
    letters = [letter for event_id, letter in state.replayable_letters.items() if event_id not in state.delivered]
    if not pending and not letters:
        return
    sendable, expired = _split_by_window(pending, state, now)
    replays, expired_letters = _split_by_window([letter["event"] for letter in letters], state, now)
    if dry_run:
        report.events_sent += len(sendable) + len(replays)
        return
    if not leases.acquire(state.pixel_id, state.batch_id, lease_s, now):
        report.skipped_leased += 1
        return
    if expired:
        runtime.writer.stage(
            ObjectKind.DEAD_LETTERS, state.pixel_id, [_expired_letter(state, event) for event in expired]
        )
        runtime.metrics.dead_letters.labels(state.pixel_id, STAGE_EXPIRED).inc(len(expired))
        report.expired += len(expired)
    report.expired += len(expired_letters)
    offset = state.max_attempt
    for events, failures_to_letters in ((sendable, True), (replays, False)):
        forwardable = [event for event in map(_forwardable, events) if event is not None]
        report.unreplayable += len(events) - len(forwardable)
        if not forwardable:
            continue
        batch = ForwardBatch(
            pixel_id=state.pixel_id,
            batch_id=state.batch_id,
            events=tuple(forwardable),
            test_event_code=state.test_event_code,
            partner_agent=state.partner_agent,
            request_id=state.request_id,
            attempt_offset=offset,
        )
        # Replayed letters failing again stay as they are: a new letter per run would pile up.
        result = runtime.forwarder.forward(
            batch, runtime.settings.forward_batch_deadline_s, dead_letter_failures=failures_to_letters
        )
        offset += result.attempts
        report.batches_sent += 1
        report.events_sent += len(forwardable)
        report.delivered += result.delivered
        if not failures_to_letters:
            report.letters_replayed += len(forwardable)


def _split_by_window(
    events: list[dict[str, Any]], state: BatchState, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(still sendable, expired): out of Meta's event_time window, or past the dedup window after
    an attempt whose outcome is unknown (Meta may have it; a resend could count twice)."""
    uncertain_too_long = state.first_uncertain_at is not None and now - state.first_uncertain_at > DEDUP_WINDOW
    sendable: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    for event in events:
        event_time = event.get("event_time")
        max_age = (
            MAX_PHYSICAL_STORE_AGE_SECONDS if event.get("action_source") == "physical_store" else MAX_EVENT_AGE_SECONDS
        )
        too_old = not isinstance(event_time, int) or now.timestamp() - event_time > max_age - SEND_MARGIN_S
        maybe_received = uncertain_too_long and str(event.get("event_id")) in state.attempted
        (expired if too_old or maybe_received else sendable).append(event)
    return sendable, expired


def _forwardable(record: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The event as Meta receives it, from a staged record or a letter; None if pseudonymized."""
    if record.get("user_data_pseudonymized"):
        return None
    return {key: value for key, value in record.items() if key in SERVER_EVENT_FIELDS}


def _expired_letter(state: BatchState, record: Mapping[str, Any]) -> dict[str, Any]:
    event = _forwardable(record) or {
        "event_id": record.get("event_id"),
        "event_name": record.get("event_name"),
        "event_time": record.get("event_time"),
    }
    reason = (
        "left Meta's time window (7 days, 62 for physical_store) or its 48 h dedup window before delivery was confirmed"
    )
    return delivery_dead_letter(
        state.pixel_id,
        state.batch_id,
        event,
        STAGE_EXPIRED,
        reason,
        replayable=False,
        attempts=0,
        request_id=state.request_id,
    )


@dataclass(frozen=True)
class ReconcileRow:
    """One pixel-hour of the reconcile report (hour = arrival hour of the staged batch, UTC)."""

    pixel_id: str
    hour: str
    batches: int
    staged: int
    forwarded: int
    delivered: int
    rejected_by_meta: int
    dead_lettered: int
    pending: int
    intake_rejected: int
    events_received_by_meta: int


def reconcile(
    runtime: ReceiverRuntime,
    *,
    pixels: Optional[Iterable[str]] = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> list[ReconcileRow]:
    """Per pixel and hour: staged vs forwarded vs accepted by Meta vs dead-lettered vs pending."""
    reader = StagingReader(runtime.store)
    since = clock() - timedelta(days=window_days)
    rows: list[ReconcileRow] = []
    for pixel_id in sorted(pixels) if pixels else pixels_in(reader):
        hours: dict[str, list[BatchState]] = {}
        for state in scan_pixel(reader, pixel_id, since).values():
            hour = f"{state.arrival:%Y-%m-%dT%H}:00Z" if state.arrival else "unstaged"
            hours.setdefault(hour, []).append(state)
        for hour, states in sorted(hours.items()):
            rows.append(
                ReconcileRow(
                    pixel_id=pixel_id,
                    hour=hour,
                    batches=sum(1 for s in states if s.events),
                    staged=sum(len(s.events) for s in states),
                    forwarded=sum(len(s.attempted & s.events.keys()) for s in states),
                    delivered=sum(len(s.delivered & s.events.keys()) for s in states),
                    rejected_by_meta=sum(s.rejected_by_meta for s in states),
                    dead_lettered=sum(len(s.dead_lettered.keys() - s.delivered) for s in states),
                    pending=sum(len(s.pending_ids) for s in states),
                    intake_rejected=sum(s.intake_rejected for s in states),
                    events_received_by_meta=sum(s.events_received for s in states),
                )
            )
    return rows
