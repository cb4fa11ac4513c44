"""The batch Lambda of the queue intake mode: `source_meta_capi.receiver.batch_handler.handler`.

An SQS event source mapping hands it up to `BatchSize` request messages (queue_intake.py) at a
time. It writes, per pixel of the batch, one dead-letters object (when the batch has rejected
events) and one events object through the same `StagingWriter` as direct mode, then forwards the
staged events to Meta in batches of up to 1,000 (`Forwarder`), and answers with the messages it
could not stage as `batchItemFailures` (the mapping has `ReportBatchItemFailures`): SQS delivers
those again, and after the queue's maxReceiveCount moves them to the dead-letter queue. A message
is deleted (by the mapping) only when its pixel's objects are durable.

Times (docs/deploy.md, "Queue intake"): the writer stamps an object's arrival when this Lambda
plans it, and it must commit within the commit deadline of that stamp (a late write is
abandoned, its messages come back); so `received_at` is when the events reached the bucket, not
when the API Lambda accepted the request (that is the message's SentTimestamp, logged here as
the queue lag). The source's watermark works on the former, which is what it needs.

Forwarding runs after staging and never fails a message (whatever is not delivered is left to
redrive, as in direct mode). A forwarding batch combines several requests of a pixel, so its
statuses carry a batch id of their own; delivery_state matches deliveries across batches by
Meta's dedup key (`event_name` + `event_id`), so redrive sees those events as delivered.
No airbyte_cdk: this module ships in the Lambda zip.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver.forwarding import ForwardBatch, resend_safe
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.pipeline import new_batch_id
from source_meta_capi.receiver.queue_intake import MessageFormatError, QueuedRequest, decode_message
from source_meta_capi.receiver.runtime import ReceiverRuntime, build_runtime
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging.keys import InvalidKeySegmentError, ObjectKind
from source_meta_capi.staging.store import StoreError, StoreUnavailableError
from source_meta_capi.staging.writer import CommitDeadlineExceededError, PlannedObject

# Meta takes at most 1,000 events per request.
FORWARD_BATCH_EVENTS = 1000
# Left of the invocation's time when forwarding starts, for answering and logging.
_SPARE_S = 5.0

_runtime: Optional[ReceiverRuntime] = None


@dataclass(frozen=True)
class _Message:
    message_id: str
    request: QueuedRequest
    sent_ms: Optional[int]


class BatchDrain:
    """Stages and forwards SQS batches of request messages with one runtime's writer and forwarder."""

    def __init__(self, runtime: ReceiverRuntime) -> None:
        self.rt = runtime

    def handle(self, event: Mapping[str, Any], remaining_s: Optional[float] = None) -> dict[str, Any]:
        """One SQS event → `{"batchItemFailures": [{"itemIdentifier": messageId}, …]}`."""
        failures: list[str] = []
        by_pixel: dict[str, list[_Message]] = {}
        for record in event.get("Records") or []:
            message_id = str(record.get("messageId", ""))
            try:
                request = decode_message(str(record.get("body", "")))
            except MessageFormatError as error:
                # Left to the dead-letter queue after maxReceiveCount, where it can be looked at.
                log(logging.ERROR, "queue message refused", message_id=message_id, reason=str(error))
                failures.append(message_id)
                continue
            sent = str((record.get("attributes") or {}).get("SentTimestamp") or "")
            message = _Message(message_id, request, int(sent) if sent.isdigit() else None)
            by_pixel.setdefault(request.pixel_id, []).append(message)
        staged: list[_Message] = []
        for pixel_id, messages in by_pixel.items():
            try:
                self._stage_pixel(pixel_id, [m.request for m in messages])
            except (StoreError, InvalidKeySegmentError) as error:
                self.rt.metrics.child(self.rt.metrics.store_errors, "stage_queue_batch").inc()
                log(
                    logging.ERROR,
                    "queue batch staging failed",
                    pixel_id=pixel_id,
                    group_requests=len(messages),
                    reason=type(error).__name__,
                )
                failures.extend(m.message_id for m in messages)
                continue
            staged.extend(messages)
            self._log_staged(pixel_id, messages)
        if staged:
            self._forward([m.request for m in staged], remaining_s)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}

    def _stage_pixel(self, pixel_id: str, requests: Sequence[QueuedRequest]) -> None:
        """One dead-letters object (if any) then one events object for the pixel's requests."""
        writer = self.rt.writer
        letters = [line for request in requests for line in request.letter_lines]
        events = [line for request in requests for line in request.event_lines]
        # Letters first, as a group commit does: a failure between the two leaves letters that
        # the redelivered messages write again under the same ids.
        if letters:
            self._commit(writer.plan(ObjectKind.DEAD_LETTERS, pixel_id), letters, "dead_letters")
        if events:
            self._commit(writer.plan(ObjectKind.EVENTS, pixel_id), events, "events")

    def _commit(self, planned: PlannedObject, lines: Sequence[bytes], kind: str) -> None:
        """Commit with retries on transient errors while half the commit deadline is left (the
        same key and content make a retry idempotent); past it the messages come back."""
        writer, delay = self.rt.writer, 0.05
        while True:
            try:
                writer.commit_lines(planned, lines)
                self.rt.metrics.child(self.rt.metrics.objects_staged, kind).inc()
                return
            except CommitDeadlineExceededError:
                raise
            except StoreUnavailableError:
                elapsed = time.monotonic() - planned.started_monotonic
                if elapsed + delay > writer.commit_deadline_s / 2:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _forward(self, requests: Sequence[QueuedRequest], remaining_s: Optional[float]) -> None:
        rt = self.rt
        if rt.settings.forward_mode == "off":
            return
        budget = rt.settings.forward_batch_deadline_s
        if remaining_s is not None:
            budget = min(budget, remaining_s - _SPARE_S)
        deadline = time.monotonic() + budget
        now = rt.wall_clock()
        groups: dict[tuple[str, Optional[str], Optional[str]], list[dict[str, Any]]] = {}
        for request in requests:
            events = [event for event in request.forward if resend_safe(event, now)]
            if events and rt.forwarder.has_token(request.pixel_id):
                key = (request.pixel_id, request.test_event_code, request.partner_agent)
                groups.setdefault(key, []).extend(events)
        for (pixel_id, test_event_code, partner_agent), events in groups.items():
            for start in range(0, len(events), FORWARD_BATCH_EVENTS):
                left = deadline - time.monotonic()
                if left <= 0:
                    # Staged: the redrive job sends what the time did not allow.
                    log(logging.WARNING, "queue batch forwarding deferred", pixel_id=pixel_id)
                    return
                batch = ForwardBatch(
                    pixel_id=pixel_id,
                    batch_id=new_batch_id(),
                    events=tuple(events[start : start + FORWARD_BATCH_EVENTS]),
                    test_event_code=test_event_code,
                    partner_agent=partner_agent,
                    accepted_monotonic=time.monotonic(),
                )
                try:
                    rt.forwarder.forward(batch, left)
                except Exception as error:
                    # Staged already: a forwarding bug must not bring the messages back.
                    log(logging.ERROR, "queue batch forwarding failed", pixel_id=pixel_id, reason=type(error).__name__)

    def _log_staged(self, pixel_id: str, messages: Sequence[_Message]) -> None:
        now_ms = int(self.rt.wall_clock() * 1000)
        sent = [m.sent_ms for m in messages if m.sent_ms is not None]
        log(
            logging.INFO,
            "queue batch staged",
            pixel_id=pixel_id,
            group_requests=len(messages),
            events=sum(len(m.request.event_lines) for m in messages),
            rejected=sum(len(m.request.letter_lines) for m in messages),
            # From SendMessage (the request's 2xx) to this write: the batching window plus any backlog.
            queue_lag_ms=now_ms - min(sent) if sent else None,
        )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler (SQS event source mapping with ReportBatchItemFailures)."""
    global _runtime
    if _runtime is None:
        json_logging.configure(os.environ.get("META_CAPI_LOG_LEVEL", "INFO"))
        _runtime = build_runtime(load_settings(os.environ))
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    remaining_s = remaining_ms() / 1000 if callable(remaining_ms) else None
    return BatchDrain(_runtime).handle(event, remaining_s)
