"""What the bucket says about each staged batch's delivery: staged events, attempts, deliveries,
dead letters. Read by the redrive and reconcile jobs (read-only, safe beside the receiver).

An event is *delivered* when a successful status record lists it, *dead-lettered* when a dead
letter names it, and *pending* otherwise. A retried request is staged again under a new batch id
(staging-format.md, "Retries are safe"), so one event can sit in several batches of a pixel: a
copy counts as delivered when any batch delivered the same `event_name` + `event_id` (Meta's
dedup key), and an uncertain attempt of any copy holds for all of them (the 47 h rule of
jobs.py). Everything is derived from write-once objects, so a
scan is a consistent-enough snapshot: anything written after it started is seen by the next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from source_meta_capi.staging.keys import ObjectKind, arrival_floor_key
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.records import parse_iso_utc

# HTTP statuses after which Meta may or may not have processed the request.
_UNCERTAIN_STATUSES = frozenset({None, 408, 500, 502, 503, 504})


@dataclass
class BatchState:
    """One batch (one accepted request) of one pixel."""

    pixel_id: str
    batch_id: str
    arrival: Optional[datetime] = None
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_event_code: Optional[str] = None
    partner_agent: Optional[str] = None
    request_id: Optional[str] = None
    attempted: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    events_received: int = 0
    max_attempt: int = 0
    first_uncertain_at: Optional[datetime] = None
    dead_lettered: dict[str, str] = field(default_factory=dict)
    replayable_letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    intake_rejected: int = 0
    # Events of this batch that another batch of the pixel delivered (a retry's copy, or the
    # original of this retry).
    delivered_elsewhere: set[str] = field(default_factory=set)

    @property
    def pending_ids(self) -> list[str]:
        """Staged events neither delivered (here or by a copy) nor dead-lettered, in staging order."""
        return [
            i
            for i in self.events
            if i not in self.delivered and i not in self.dead_lettered and i not in self.delivered_elsewhere
        ]

    @property
    def rejected_by_meta(self) -> int:
        return sum(1 for stage in self.dead_lettered.values() if stage == "meta_rejected")


def pixels_in(reader: StagingReader) -> list[str]:
    """Every pixel id with staged objects of any kind."""
    found: set[str] = set()
    for kind in ObjectKind:
        for child in reader.store.list_children(f"{kind.value}/"):
            name = child[len(kind.value) + 1 :].rstrip("/")
            if name.startswith("pixel_id=") and name[9:].isdigit():
                found.add(name[9:])
    return sorted(found)


def scan_pixel(
    reader: StagingReader, pixel_id: str, since: datetime, events_arrived_before: Optional[datetime] = None
) -> dict[str, BatchState]:
    """The delivery state of every batch of `pixel_id` with anything staged since `since`.

    Events are taken only from objects that arrived before `events_arrived_before` (younger
    batches may still be forwarded by the receiver); statuses and dead letters up to now.
    """
    batches: dict[str, BatchState] = {}

    def batch(record: dict[str, Any]) -> Optional[BatchState]:
        batch_id = record.get("batch_id")
        if not isinstance(batch_id, str):
            return None
        return batches.setdefault(batch_id, BatchState(pixel_id, batch_id))

    for arrival, record in _records(reader, ObjectKind.EVENTS, pixel_id, since, events_arrived_before):
        state = batch(record)
        event_id = record.get("event_id")
        if state is None or not isinstance(event_id, str):
            continue
        state.events.setdefault(event_id, record)
        state.arrival = min(state.arrival or arrival, arrival)
        state.test_event_code = record.get("test_event_code")
        state.partner_agent = record.get("partner_agent")
        state.request_id = record.get("request_id")
    for _, record in _records(reader, ObjectKind.STATUSES, pixel_id, since, None):
        state = batch(record)
        if state is None:
            continue
        ids = [str(i) for i in record.get("event_ids") or []]
        state.attempted.update(ids)
        attempt = record.get("attempt")
        if isinstance(attempt, int):
            state.max_attempt = max(state.max_attempt, attempt)
        if record.get("outcome") == "delivered":
            state.delivered.update(ids)
            received = record.get("events_received")
            state.events_received += received if isinstance(received, int) else 0
        elif record.get("http_status") in _UNCERTAIN_STATUSES and isinstance(record.get("started_at"), str):
            started = parse_iso_utc(record["started_at"])
            state.first_uncertain_at = min(state.first_uncertain_at or started, started)
    intake_letters: set[Any] = set()
    for _, record in _records(reader, ObjectKind.DEAD_LETTERS, pixel_id, since, None):
        state = batch(record)
        if state is None:
            continue
        stage = str(record.get("stage"))
        event_id = record.get("event_id")
        if stage == "intake":
            # A retried request writes its intake letters again, under the same ids.
            letter_id = record.get("dead_letter_id")
            if letter_id not in intake_letters:
                intake_letters.add(letter_id)
                state.intake_rejected += 1
            continue
        if not isinstance(event_id, str):
            continue
        state.dead_lettered.setdefault(event_id, stage)
        if record.get("replayable") is True and isinstance(record.get("event"), dict):
            state.replayable_letters.setdefault(event_id, record)
    _share_between_copies(batches)
    return batches


def _share_between_copies(batches: dict[str, BatchState]) -> None:
    """What one copy of an event went through holds for every copy of it in the pixel."""
    delivered: set[tuple[Optional[str], str]] = set()
    delivered_any_name: set[str] = set()
    uncertain_at: dict[str, datetime] = {}
    for state in batches.values():
        for event_id in state.delivered:
            record = state.events.get(event_id)
            if record is None:
                # The delivering batch's events were not read (too young or too old for the
                # scan): its name is unknown, so any copy of the id counts as delivered.
                delivered_any_name.add(event_id)
            else:
                delivered.add((record.get("event_name"), event_id))
        if state.first_uncertain_at is not None:
            for event_id in state.attempted - state.delivered:
                known = uncertain_at.get(event_id)
                uncertain_at[event_id] = min(known or state.first_uncertain_at, state.first_uncertain_at)
    if not delivered and not delivered_any_name and not uncertain_at:
        return
    for state in batches.values():
        for event_id, record in state.events.items():
            if event_id in state.delivered:
                continue
            if event_id in delivered_any_name or (record.get("event_name"), event_id) in delivered:
                state.delivered_elsewhere.add(event_id)
            elif event_id in uncertain_at:
                state.attempted.add(event_id)
                moment = uncertain_at[event_id]
                state.first_uncertain_at = min(state.first_uncertain_at or moment, moment)


def _records(
    reader: StagingReader, kind: ObjectKind, pixel_id: str, since: datetime, before: Optional[datetime]
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    floor = arrival_floor_key(kind, pixel_id, since)
    for hour in reader.hours(kind, pixel_id, after_key=floor):
        for key in reader.objects(hour, after_key=floor, arrived_before=before):
            for line in reader.read(key.key):
                if line.record is not None:
                    yield key.arrival, line.record
