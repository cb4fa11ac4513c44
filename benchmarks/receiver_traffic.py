"""What the receiver benchmarks send: signed CAPI requests with raw personal data, pre-built as
raw HTTP/1.1 bytes so the load generator does no JSON or HMAC work while it is timed.

Every request has its own `webhook-id` (a repeated id would be answered from the idempotency
ledger instead of staged) and its own event ids; user data is raw (e-mail, phone, names, city,
state, ZIP, country, external id), so the receiver really normalizes and hashes it. Requests are
signed with the current time just before each timed run: the receiver accepts timestamps within
its tolerance (300 s by default), far longer than a run.
"""

from __future__ import annotations

import base64
import random
import secrets
import struct
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from source_meta_capi.receiver.signatures import parse_webhook_secret, sign_standard_webhook

PIXEL = "1234567890123456"
EVENTS_PATH = f"/v1/pixels/{PIXEL}/events"
_FIRST = ("Jane", "José", "Zoë", "Liam", "Chloé", "Ahmed", "Mei", "Olga", "Noah", "Åsa")
_LAST = ("Doe", "García", "Müller", "Nguyen", "O'Brien", "Smith", "Kowalski", "Rossi", "Tanaka", "Silva")
_CITIES = (
    ("San Francisco", "CA", "94107"),
    ("New York", "New York", "10001-1234"),
    ("Austin", "TX", "73301"),
    ("Seattle", "Washington", "98101"),
    ("Boston", "MA", "02108"),
)
_EVENTS = ("Purchase", "AddToCart", "ViewContent", "Lead", "InitiateCheckout")


def new_secret() -> str:
    """A fresh Standard Webhooks secret (whsec_ + 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def raw_event(rng: random.Random, run: str, index: int, now: int) -> dict[str, Any]:
    """One website event as a sender sends it: raw user data the receiver must hash."""
    city, state, zip_code = rng.choice(_CITIES)
    name = rng.choice(_EVENTS)
    user = rng.randrange(1, 1_000_000)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": now - rng.randrange(1, 600),
        "event_id": f"bench-{run}-{index}",
        "action_source": "website",
        "event_source_url": f"https://shop.example.com/{name.lower()}",
        "user_data": {
            "em": f" {first}.{last}{user}@Example.COM ",
            "ph": f"+1 (415) {rng.randrange(200, 999)}-{rng.randrange(0, 10_000):04d}",
            "fn": first,
            "ln": last,
            "ct": city,
            "st": state,
            "zp": zip_code,
            "country": "US",
            "external_id": f"user-{user}",
            "client_ip_address": f"203.0.113.{rng.randrange(1, 255)}",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "fbp": f"fb.1.{now * 1000}.{user}",
        },
        "custom_data": {},
    }
    if name in ("Purchase", "AddToCart", "InitiateCheckout"):
        event["custom_data"] = {
            "currency": "USD",
            "value": round(rng.uniform(5, 400), 2),
            "content_type": "product",
            "content_ids": [f"SKU-{rng.randrange(1000)}"],
            "num_items": 1,
        }
    return event


def signed_requests(
    secret: str, count: int, events_per_request: int, *, host: str = "127.0.0.1", seed: int = 7
) -> list[bytes]:
    """`count` raw HTTP/1.1 POSTs (keep-alive), each signed now with a distinct webhook-id."""
    rng = random.Random(seed)
    key = parse_webhook_secret(secret)
    run = uuid.uuid4().hex[:8]
    now = int(time.time())
    requests: list[bytes] = []
    for number in range(count):
        events = [
            raw_event(rng, run, number * events_per_request + offset, now) for offset in range(events_per_request)
        ]
        body = orjson.dumps({"data": events})
        webhook_id = f"msg_{run}_{number}"
        signature = sign_standard_webhook(key, webhook_id, now, body)
        head = (
            f"POST {EVENTS_PATH} HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"webhook-id: {webhook_id}\r\n"
            f"webhook-timestamp: {now}\r\n"
            f"webhook-signature: {signature}\r\n"
            "\r\n"
        )
        requests.append(head.encode("ascii") + body)
    return requests


def write_requests(path: Path, requests: Sequence[bytes]) -> None:
    """Length-prefixed raw requests, read back by `read_requests` in the load generator."""
    with path.open("wb") as handle:
        for request in requests:
            handle.write(struct.pack(">I", len(request)))
            handle.write(request)


def read_requests(path: Path) -> list[bytes]:
    return list(_frames(path.read_bytes()))


def _frames(data: bytes) -> Iterator[bytes]:
    offset = 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        offset += 4
        yield data[offset : offset + size]
        offset += size
