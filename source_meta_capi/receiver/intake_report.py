"""What the receiver counts and logs about a staged request: its test events, and its rejected
events with the schema-drift alarm. Shared by the signed route and the Graph-compatible intake."""

from __future__ import annotations

import logging
from typing import Optional

from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.receiver.pipeline import TEST_EVENT_FIELD, Intake

# Fields whose absence breaks attribution: counted as schema drift when an event lacks them (a
# missing event_id is not among them: the receiver derives one).
_ATTRIBUTION_FIELDS = frozenset({"event_name", "event_time", "action_source", "user_data"})
# Rejections named per "events rejected" line (the answer lists them all).
_LOGGED_REJECTIONS = 50


def report_staged(intake: Intake, metrics: ReceiverMetrics, schema_version: Optional[str]) -> None:
    """Count a staged intake's test events, and log (and count) its rejections."""
    if intake.test_event_code is not None:
        _count_test_events(intake, metrics)
    if intake.rejections:
        _log_rejections(intake, metrics, schema_version)


def _count_test_events(intake: Intake, metrics: ReceiverMetrics) -> None:
    pixel = intake.context.pixel_id
    refused = sum(1 for rejection in intake.rejections if rejection.field == TEST_EVENT_FIELD)
    if intake.accepted:
        metrics.child(metrics.test_events, pixel, "accepted").inc(len(intake.accepted))
    if refused:
        metrics.child(metrics.test_events, pixel, "refused").inc(refused)


def _log_rejections(intake: Intake, metrics: ReceiverMetrics, schema_version: Optional[str]) -> None:
    """A line per request with rejected events, saying why (the group's "batch staged" line
    only counts them), plus the schema-drift alarm when a field attribution needs is gone."""
    context = intake.context
    pixel = context.pixel_id
    drift = []
    for rejection in intake.rejections:
        metrics.child(metrics.events_rejected, pixel, rejection.field).inc()
        if rejection.field.split(".", 1)[0] in _ATTRIBUTION_FIELDS:
            metrics.child(metrics.schema_drift, pixel, rejection.field).inc()
            drift.append(rejection)
    named = intake.rejections[:_LOGGED_REJECTIONS]
    log(
        logging.WARNING,
        "events rejected",
        request_id=context.request_id,
        pixel_id=pixel,
        batch_id=context.batch_id,
        signature_status=context.signature_status,
        event_ids=sorted({r.event_id for r in intake.rejections if r.event_id is not None}),
        field=",".join(sorted({r.field for r in intake.rejections})),
        reason="; ".join(f"event {r.index} ({r.event_id or 'no event_id'}) {r.field}: {r.reason}" for r in named),
        events=intake.events_received,
        accepted=len(intake.accepted),
        rejected=len(intake.rejections),
    )
    if drift:
        # The schema-drift alarm (DESIGN.md, failure semantics): a sender stopped sending a
        # field Meta needs for attribution. Named per pixel, event and field, never values.
        log(
            logging.ERROR,
            "schema drift",
            request_id=context.request_id,
            pixel_id=pixel,
            batch_id=context.batch_id,
            event_ids=[r.event_id for r in drift if r.event_id is not None],
            field=",".join(sorted({r.field for r in drift})),
            events=len(drift),
            # The registered delivered_events version this deployment writes (META_CAPI_SCHEMA_VERSION).
            schema_version=schema_version,
        )
