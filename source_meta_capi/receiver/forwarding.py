"""Forwarding staged batches to Meta, and recording what Meta answered.

Forwarding is separate from acceptance: it starts only after a batch is durably staged, and
whatever happens here never changes the caller's answer (DESIGN.md, "Failure semantics").
`CapiEventsClient` does the HTTP work (retries honoring usage headers, bisection of a rejected
batch); this module turns its `DeliveryReport` into staged records:

- one `statuses/` record per HTTP attempt (the `delivery_statuses` stream);
- a dead letter per event Meta refused alone (`meta_rejected`, not replayable) and per event
  still undelivered after the retry budget or an auth failure (`forwarding`, replayable);
- events left undelivered only because the time budget ran out are *deferred*: no dead letter,
  the redrive job sends them later.

Attempt numbers continue across forwarding runs of a batch (`attempt_offset`), so
`(pixel_id, batch_id, attempt)` stays a primary key when redrive sends a batch again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from source_meta_capi.capi.delivery_report import AttemptRecord, DeliveryReport, EventFate, EventOutcome
from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.capi.graph_errors import ErrorClass
from source_meta_capi.receiver.dead_letters import STAGE_FORWARDING, STAGE_META_REJECTED, delivery_dead_letter
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.records import iso_utc
from source_meta_capi.staging.store import StoreError
from source_meta_capi.staging.writer import StagingWriter

_DEADLINE_REASON = "deadline reached"
# Meta keeps the first event_name + event_id for 48 h from when it received it, which cannot be
# before the event happened. A retried request is staged and forwarded again without looking
# anything up, so the receiver forwards only events younger than this (1 h margin): a copy Meta
# may already hold is then still inside its dedup window. Older events are left to redrive,
# which checks the pixel's delivery history before sending.
RESEND_SAFE_AGE_S = 47 * 3600


def resend_safe(event: Mapping[str, Any], now: float) -> bool:
    """Whether Meta would deduplicate this event against any copy it may already have."""
    event_time = event.get("event_time")
    return isinstance(event_time, int) and now - event_time < RESEND_SAFE_AGE_S


@dataclass(frozen=True)
class ForwardBatch:
    """The accepted events of one request (or what redrive still has to send of it)."""

    pixel_id: str
    batch_id: str
    events: tuple[Mapping[str, Any], ...]
    test_event_code: Optional[str] = None
    partner_agent: Optional[str] = None
    request_id: Optional[str] = None
    attempt_offset: int = 0
    accepted_monotonic: float = 0.0


@dataclass(frozen=True)
class ForwardResult:
    """What one forwarding run did. `status`: delivered, partial, deferred, failed or skipped."""

    status: str
    delivered: int = 0
    rejected: int = 0
    undelivered: int = 0
    deferred: int = 0
    attempts: int = 0
    statuses_staged: bool = True
    reason: Optional[str] = None

    def as_json(self) -> dict[str, Any]:
        """The summary an inline answer carries (counts only)."""
        return {
            "status": self.status,
            "delivered": self.delivered,
            "rejected": self.rejected,
            "undelivered": self.undelivered,
            "deferred": self.deferred,
            "attempts": self.attempts,
        }


class Forwarder:
    """Sends batches with `CapiEventsClient` and stages statuses and dead letters. Thread-safe."""

    def __init__(
        self,
        client: CapiEventsClient,
        writer: StagingWriter,
        access_tokens: Mapping[str, str],
        metrics: ReceiverMetrics,
        *,
        api_version: str,
        default_partner_agent: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._writer = writer
        self._tokens = access_tokens
        self._metrics = metrics
        self._api_version = api_version
        self._partner_agent = default_partner_agent
        self._monotonic = monotonic

    def has_token(self, pixel_id: str) -> bool:
        """Whether forwarding is configured for the pixel."""
        return bool(self._tokens.get(pixel_id))

    def forward(self, batch: ForwardBatch, deadline_s: float, *, dead_letter_failures: bool = True) -> ForwardResult:
        """Send the batch within `deadline_s` seconds and stage what happened. Never raises for
        Meta's answers or store failures (they are logged and counted; redrive repairs them)."""
        token = self._tokens.get(batch.pixel_id)
        if not token:
            self._metrics.forward_skipped.labels("no_token").inc()
            return ForwardResult("skipped", reason="no access token configured for this pixel")
        if not batch.events:
            return ForwardResult("delivered")
        deadline = self._monotonic() + deadline_s
        report = self._client.send(
            batch.pixel_id,
            token,
            batch.events,
            test_event_code=batch.test_event_code,
            partner_agent=batch.partner_agent or self._partner_agent,
            deadline=deadline,
        )
        statuses = [self._status_record(batch, attempt) for attempt in report.attempts]
        letters, deferred = self._dead_letters(batch, report, dead_letter_failures)
        staged = self._stage(batch, ObjectKind.STATUSES, statuses) and self._stage(
            batch, ObjectKind.DEAD_LETTERS, letters
        )
        result = _summarize(report, deferred, staged)
        self._observe(batch, report, letters, result)
        return result

    def _status_record(self, batch: ForwardBatch, attempt: AttemptRecord) -> dict[str, Any]:
        return {
            "pixel_id": batch.pixel_id,
            "batch_id": batch.batch_id,
            "attempt": batch.attempt_offset + attempt.attempt,
            "outcome": attempt_outcome(attempt),
            "event_ids": list(attempt.event_ids),
            "event_count": len(attempt.event_ids),
            "http_status": attempt.http_status,
            "events_received": attempt.events_received,
            "messages": list(attempt.messages),
            "fbtrace_id": attempt.fbtrace_id,
            "error_code": attempt.error_code,
            "error_subcode": attempt.error_subcode,
            "error_type": attempt.error_type,
            "error_message": attempt.error_message,
            "error_class": attempt.error_class.value if attempt.error_class else None,
            "retryable": attempt.retryable,
            "next_retry_at": iso_utc(attempt.next_retry_at) if attempt.next_retry_at else None,
            "started_at": iso_utc(attempt.started_at),
            "duration_ms": attempt.duration_ms,
            "test_event_code": batch.test_event_code,
            "api_version": self._api_version,
        }

    def _dead_letters(
        self, batch: ForwardBatch, report: DeliveryReport, dead_letter_failures: bool
    ) -> tuple[list[dict[str, Any]], int]:
        letters: list[dict[str, Any]] = []
        deferred = 0
        for outcome in report.outcomes:
            if outcome.fate is EventFate.DELIVERED:
                continue
            event = batch.events[outcome.index]
            if outcome.fate is EventFate.REJECTED:
                letters.append(self._letter(batch, event, outcome, STAGE_META_REJECTED, report, replayable=False))
            elif is_deferred(outcome):
                deferred += 1
            elif dead_letter_failures:
                letters.append(self._letter(batch, event, outcome, STAGE_FORWARDING, report, replayable=True))
        return letters, deferred

    def _letter(
        self,
        batch: ForwardBatch,
        event: Mapping[str, Any],
        outcome: EventOutcome,
        stage: str,
        report: DeliveryReport,
        *,
        replayable: bool,
    ) -> dict[str, Any]:
        tries = sum(1 for a in report.attempts if outcome.event_id in a.event_ids)
        return delivery_dead_letter(
            batch.pixel_id,
            batch.batch_id,
            event,
            stage,
            outcome.reason or stage,
            replayable=replayable,
            attempts=tries,
            error_code=outcome.error.code if outcome.error else None,
            error_subcode=outcome.error.subcode if outcome.error else None,
            request_id=batch.request_id,
        )

    def _stage(self, batch: ForwardBatch, kind: ObjectKind, records: Sequence[Mapping[str, Any]]) -> bool:
        if not records:
            return True
        for attempt in range(3):
            try:
                self._writer.stage(kind, batch.pixel_id, records)
                self._metrics.objects_staged.labels(kind.value).inc()
                return True
            except StoreError as error:
                self._metrics.store_errors.labels(f"stage_{kind.value}").inc()
                log(
                    logging.ERROR,
                    "staging forwarding records failed",
                    pixel_id=batch.pixel_id,
                    batch_id=batch.batch_id,
                    reason=type(error).__name__,
                    count=attempt + 1,
                )
                time.sleep(0.1 * (attempt + 1))
        return False

    def _observe(
        self, batch: ForwardBatch, report: DeliveryReport, letters: Sequence[Mapping[str, Any]], result: ForwardResult
    ) -> None:
        pixel = batch.pixel_id
        for attempt in report.attempts:
            self._metrics.forward_requests.labels(pixel, attempt_outcome(attempt)).inc()
            self._metrics.forward_seconds.labels(pixel).observe(attempt.duration_ms / 1000)
            if attempt.try_number > 1:
                self._metrics.forward_retries.labels(pixel).inc()
        for fate, count in (
            ("delivered", result.delivered),
            ("rejected", result.rejected),
            ("undelivered", result.undelivered),
            ("deferred", result.deferred),
        ):
            if count:
                self._metrics.events_forwarded.labels(pixel, fate).inc(count)
        for letter in letters:
            self._metrics.dead_letters.labels(pixel, str(letter["stage"])).inc()
        halted = report.halted_by
        log(
            20 if result.status == "delivered" else 30,
            "forwarded batch",
            pixel_id=pixel,
            batch_id=batch.batch_id,
            request_id=batch.request_id,
            status=result.status,
            delivered=result.delivered,
            rejected=result.rejected,
            undelivered=result.undelivered,
            attempts=result.attempts,
            error_code=halted.code if halted else None,
            fbtrace_id=report.attempts[-1].fbtrace_id if report.attempts else None,
        )


def attempt_outcome(attempt: AttemptRecord) -> str:
    """The `outcome` of a status record: delivered, retrying, rejected, failed_auth or gave_up."""
    if attempt.succeeded:
        return "delivered"
    if attempt.next_retry_at is not None:
        return "retrying"
    if attempt.error_class is ErrorClass.PERMANENT:
        return "rejected"
    if attempt.error_class is ErrorClass.AUTH:
        return "failed_auth"
    return "gave_up"


def is_deferred(outcome: EventOutcome) -> bool:
    """An undelivered event that was not given up on, only out of time (or never sent)."""
    if outcome.fate is not EventFate.UNDELIVERED:
        return False
    return outcome.error is None or (outcome.reason or "").startswith(_DEADLINE_REASON)


def _summarize(report: DeliveryReport, deferred: int, staged: bool) -> ForwardResult:
    delivered = len(report.delivered_event_ids)
    rejected = len(report.rejected_event_ids)
    undelivered = len(report.undelivered_event_ids) - deferred
    total = len(report.outcomes)
    if delivered == total:
        status = "delivered"
    elif deferred == total:
        status = "deferred"
    elif delivered:
        status = "partial"
    else:
        status = "failed"
    reason = None
    if report.halted_by is not None:
        reason = f"Meta error {report.halted_by.code_label}"
    return ForwardResult(status, delivered, rejected, undelivered, deferred, len(report.attempts), staged, reason)
