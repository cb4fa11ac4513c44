"""What the reliability tests send: signed CAPI batches with unique raw personal data, and the
ledger that says, for every event sent, what must have happened to it.

Every raw personal value and secret the suite uses is registered in `SENSITIVE` so the privacy
audit (audit.py) can look for it in everything the suite produced.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from standardwebhooks import Webhook

from source_meta_capi.receiver.signatures import sign_hub
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import ObjectStore

PIXEL = "1234567890"
OTHER_PIXEL = "2222222222"
# Random per session: a value that appears in an artefact can only have come from this run.
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
WRONG_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
HUB_SECRET = "hubsecret" + secrets.token_hex(16)
ACCESS_TOKEN = "EAABrel" + secrets.token_hex(20)
APP_SECRET = "appsecret" + secrets.token_hex(16)
SALT = "salt" + secrets.token_hex(16)

Identity = tuple[str, str, int]


class _Sensitive:
    """Raw personal data and secrets sent by the suite (thread-safe set of strings)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, *values: str) -> None:
        with self._lock:
            self._values.update(v for v in values if v)

    def snapshot(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)


SENSITIVE = _Sensitive()
SENSITIVE.add(SECRET, SECRET.removeprefix("whsec_"), WRONG_SECRET, HUB_SECRET, ACCESS_TOKEN, APP_SECRET, SALT)


def raw_user_data(tag: str) -> dict[str, Any]:
    """User data with raw values unique to `tag` (the receiver must hash them before staging)."""
    token = uuid.uuid4().hex[:10]
    first = "Qz" + token[:6]
    last = "Vx" + token[4:]
    email = f"Rel.{tag}.{token}@Example.org"
    digits = str(int(token[:7], 16) % 10_000_000).zfill(7)
    phone = f"+1 (415) {digits[:3]}-{digits[3:]}"
    city = "Cty" + token[2:8]
    values = {"em": email, "ph": phone, "fn": first, "ln": last, "ct": city, "country": "US"}
    SENSITIVE.add(email, email.lower(), first, last, city, city.lower(), first.lower(), last.lower())
    SENSITIVE.add(f"415{digits}", f"1415{digits}", f"+1415{digits}", phone)
    return values


def make_event(event_id: str, *, valid: bool = True, now: Optional[int] = None, tag: str = "t") -> dict[str, Any]:
    """A website event with raw user data; invalid ones lack `action_source` (refused at intake)."""
    moment = now or int(time.time())
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": moment - 30,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": {**raw_user_data(tag), "client_ip_address": "203.0.113.7", "client_user_agent": "rel/1.0"},
        "custom_data": {"currency": "USD", "value": 12.5},
    }
    if not valid:
        del event["action_source"]
    return event


def sign(body: bytes, webhook_id: str, secret: str = SECRET, at: Optional[datetime] = None) -> dict[str, str]:
    """Standard Webhooks headers made by the reference library (the sender side)."""
    moment = at or datetime.now(timezone.utc)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, body.decode()),
    }


def hub_headers(body: bytes, secret: str = HUB_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": sign_hub(secret, body)}


@dataclass
class PlannedRequest:
    """One request the suite sends (and retries with the same webhook-id and body)."""

    webhook_id: str
    pixel_id: str
    body: bytes
    valid_ids: tuple[str, ...]
    invalid_ids: tuple[str, ...]
    event_times: Mapping[str, int]

    def identities(self) -> set[Identity]:
        return {(self.pixel_id, i, self.event_times[i]) for i in self.valid_ids}


def plan_requests(
    count: int, events_per_request: int, *, run: str, invalid_every: int = 0, pixels: Iterable[str] = (PIXEL,)
) -> list[PlannedRequest]:
    """`count` requests; with `invalid_every` = k, every k-th event is invalid (refused at intake)."""
    pixel_list = list(pixels)
    planned: list[PlannedRequest] = []
    now = int(time.time())
    serial = 0
    for number in range(count):
        events, valid, invalid, times = [], [], [], {}
        for _ in range(events_per_request):
            serial += 1
            event_id = f"{run}-{serial}"
            ok = not (invalid_every and serial % invalid_every == 0)
            event = make_event(event_id, valid=ok, now=now, tag=run)
            events.append(event)
            times[event_id] = event["event_time"]
            (valid if ok else invalid).append(event_id)
        body = json.dumps({"data": events}).encode()
        planned.append(
            PlannedRequest(
                f"msg_{run}_{number}", pixel_list[number % len(pixel_list)], body, tuple(valid), tuple(invalid), times
            )
        )
    return planned


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class Ledger:
    """The final answer of each planned request, and the exact-once checks over it."""

    def __init__(self, planned: Iterable[PlannedRequest]) -> None:
        self.planned = {p.webhook_id: p for p in planned}
        self.final: dict[str, Answer] = {}
        self.attempts: Counter[str] = Counter()  # answer status (or transport error) per attempt
        self._lock = threading.Lock()

    def attempt(self, outcome: str) -> None:
        with self._lock:
            self.attempts[outcome] += 1

    def settle(self, webhook_id: str, answer: Answer) -> None:
        with self._lock:
            self.final[webhook_id] = answer

    def check_answers(self) -> dict[str, int]:
        """Every request got a final answer; every event is accepted, or rejected with a reason."""
        missing = set(self.planned) - set(self.final)
        assert not missing, f"{len(missing)} requests never got a final answer"
        accepted = rejected = 0
        for webhook_id, planned in self.planned.items():
            answer = self.final[webhook_id]
            assert answer.status in (200, 422), (webhook_id, answer.status, answer.body)
            body = answer.body
            assert sorted(body["event_ids"]) == sorted(planned.valid_ids), webhook_id
            refused = {r["event_id"]: r for r in body["rejections"]}
            assert sorted(refused) == sorted(planned.invalid_ids), webhook_id
            assert all(r["reason"] and r["field"] for r in refused.values())
            accepted += len(planned.valid_ids)
            rejected += len(planned.invalid_ids)
        return {"events_accepted": accepted, "events_rejected_with_reason": rejected}

    def expected_identities(self) -> set[Identity]:
        return {identity for p in self.planned.values() for identity in p.identities()}


def staged_identities(store: ObjectStore, pixels: Iterable[str] = (PIXEL, OTHER_PIXEL)) -> Counter[Identity]:
    """Every event identity in the store's events objects, with its number of copies."""
    reader = StagingReader(store)
    found: Counter[Identity] = Counter()
    for pixel in pixels:
        for key in store.list_keys(f"{ObjectKind.EVENTS.value}/pixel_id={pixel}/"):
            for line in reader.read(key):
                record = line.record
                if record is not None:
                    found[(record["pixel_id"], record["event_id"], record["event_time"])] += 1
    return found


def assert_all_and_only(found: Counter[Identity], expected: set[Identity], what: str) -> int:
    """Each expected identity at least once, nothing else; returns the number of extra copies.

    What the bucket must hold (staging-format.md, "Retries are safe"): a retried request is
    staged again with the same identities, so copies are allowed in the store; the source emits
    each identity once per sync (assert_exactly_once on a sync's output).
    """
    missing = expected - set(found)
    extra = set(found) - expected
    assert not missing, f"{what}: {len(missing)} events missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{what}: {len(extra)} unexpected events, e.g. {sorted(extra)[:3]}"
    return sum(found.values()) - len(found)


def assert_exactly_once(found: Counter[Identity], expected: set[Identity], what: str) -> None:
    """Each expected identity exactly once, nothing else."""
    missing = expected - set(found)
    extra = set(found) - expected
    doubled = {i: n for i, n in found.items() if n > 1}
    assert not missing, f"{what}: {len(missing)} events missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{what}: {len(extra)} unexpected events, e.g. {sorted(extra)[:3]}"
    assert not doubled, f"{what}: {len(doubled)} events more than once, e.g. {sorted(doubled.items())[:3]}"
