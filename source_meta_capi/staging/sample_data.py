"""A realistic sample of staged events, delivery statuses and dead letters, written with the
project's own staging writer. Used by the demo, the acceptance-test bucket and benchmarks."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.writer import StagingWriter

_EVENT_MIX = (
    ("PageView", 50),
    ("ViewContent", 25),
    ("AddToCart", 12),
    ("InitiateCheckout", 6),
    ("Purchase", 4),
    ("Lead", 3),
)
_CITIES = (
    ("menlopark", "ca", "94025", "us"),
    ("newyork", "ny", "10001", "us"),
    ("berlin", "be", "10115", "de"),
    ("london", "", "sw1a1aa", "gb"),
)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SampleSummary:
    """What was staged."""

    events: int
    statuses: int
    dead_letters: int
    objects: int


def sample_event(rng: random.Random, pixel_id: str, event_time: int, index: int) -> dict[str, Any]:
    """One staged event as the receiver would stage it (user_data already hashed)."""
    names, weights = zip(*_EVENT_MIX, strict=False)
    name = rng.choices(names, weights)[0]
    city, state, zip_code, country = rng.choice(_CITIES)
    user = rng.randrange(1, 5000)
    event: dict[str, Any] = {
        "pixel_id": pixel_id,
        "event_name": name,
        "event_time": event_time,
        "event_id": f"{name.lower()}-{pixel_id[-4:]}-{index}",
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/{name.lower()}",
        "user_data": {
            "em": [_sha(f"user{user}@example.com")],
            "ct": [_sha(city)],
            "zp": [_sha(zip_code)],
            "country": [_sha(country)],
            "external_id": [_sha(f"user-{user}")],
            "client_ip_address": f"2001:db8::{user:x}",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "fbp": f"fb.1.{event_time * 1000}.{user}",
        },
        "custom_data": {},
        "signature_status": "verified:standard_webhooks",
        "event_index": index,
    }
    if state:
        event["user_data"]["st"] = [_sha(state)]
    if name in ("Purchase", "InitiateCheckout", "AddToCart"):
        value = round(rng.uniform(5, 400), 2)
        event["custom_data"] = {
            "currency": "USD",
            "value": value,
            "content_type": "product",
            "content_ids": [f"SKU-{rng.randrange(100)}"],
            "num_items": 1,
        }
        if name == "Purchase":
            order = f"order-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"
            event["event_id"] = order
            event["custom_data"]["order_id"] = order
    return event


def stage_sample(
    writer: StagingWriter,
    pixel_ids: list[str],
    batches_per_pixel: int = 6,
    events_per_batch: int = 20,
    seed: int = 7,
    now: Optional[datetime] = None,
) -> SampleSummary:
    """Stage batches of events per pixel, one delivery status per batch, and a dead letter per pixel."""
    rng = random.Random(seed)
    moment = now or datetime.now(timezone.utc)
    events = statuses = dead = objects = 0
    for pixel_id in pixel_ids:
        for batch_number in range(batches_per_pixel):
            batch_id = f"b{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
            base_time = int((moment - timedelta(hours=batches_per_pixel - batch_number)).timestamp())
            batch = [
                sample_event(rng, pixel_id, base_time + i, batch_number * events_per_batch + i)
                for i in range(events_per_batch)
            ]
            for record in batch:
                record["batch_id"] = batch_id
            writer.stage(ObjectKind.EVENTS, pixel_id, batch)
            accepted = batch_number % 5 != 4
            writer.stage(
                ObjectKind.STATUSES,
                pixel_id,
                [
                    {
                        "pixel_id": pixel_id,
                        "batch_id": batch_id,
                        "attempt": 1,
                        "outcome": "delivered" if accepted else "retrying",
                        "event_ids": [record["event_id"] for record in batch],
                        "event_count": len(batch),
                        "http_status": 200 if accepted else 503,
                        "events_received": len(batch) if accepted else None,
                        "messages": [],
                        "fbtrace_id": f"A{uuid.UUID(int=rng.getrandbits(128)).hex[:22]}",
                        "retryable": not accepted,
                        "error_class": None if accepted else "transient",
                    }
                ],
            )
            events += len(batch)
            statuses += 1
            objects += 2
        writer.stage(
            ObjectKind.DEAD_LETTERS,
            pixel_id,
            [
                {
                    "dead_letter_id": f"dl-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}",
                    "pixel_id": pixel_id,
                    "stage": "validation",
                    "reason": "event_time is more than 7 days old; Meta rejects the whole batch for it",
                    "field": "event_time",
                    "event_id": f"late-{pixel_id[-4:]}",
                    "event_name": "Purchase",
                    "event_index": 0,
                    "replayable": False,
                }
            ],
        )
        dead += 1
        objects += 1
    return SampleSummary(events=events, statuses=statuses, dead_letters=dead, objects=objects)
