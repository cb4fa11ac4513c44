"""Fixtures of the receiver's integration tests: a real uvicorn on 127.0.0.1, the Graph API
stand-in, signing helpers, and staged-object readers."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import pytest
import requests
from standardwebhooks import Webhook

from integration_tests.support.clocks import FakeClock
from integration_tests.support.graph_stand_in import GraphStandIn
from integration_tests.support.receiver_servers import RunningReceiver
from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.runtime import ReceiverRuntime, build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import ObjectStore

PIXEL = "1234567890"
TOKEN = "test-token"
SECRET = "whsec_" + base64.b64encode(b"receiver-integration-secret-32b!").decode()
HUB_SECRET = "hub-app-secret"


@dataclass
class Receiver:
    """A running receiver and what it writes to."""

    url: str
    runtime: ReceiverRuntime
    session: requests.Session
    clock: FakeClock

    @property
    def store(self) -> ObjectStore:
        return self.runtime.store

    def post(self, body: bytes | str, headers: Mapping[str, str], pixel_id: str = PIXEL) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return self.session.post(
            f"{self.url}/v1/pixels/{pixel_id}/events", data=data, headers=dict(headers), timeout=30
        )

    def send(self, body: Mapping[str, Any], pixel_id: str = PIXEL, msg_id: Optional[str] = None) -> requests.Response:
        raw = json.dumps(body)
        return self.post(raw, sw_headers(raw, msg_id), pixel_id)

    def records(self, kind: ObjectKind, pixel_id: str = PIXEL) -> list[dict[str, Any]]:
        return staged_records(self.store, kind, pixel_id)

    def objects(self, kind: ObjectKind, pixel_id: str = PIXEL) -> list[str]:
        return list(self.store.list_keys(f"{kind.value}/pixel_id={pixel_id}/"))


def staged_records(store: ObjectStore, kind: ObjectKind, pixel_id: str = PIXEL) -> list[dict[str, Any]]:
    reader = StagingReader(store)
    found: list[dict[str, Any]] = []
    for key in store.list_keys(f"{kind.value}/pixel_id={pixel_id}/"):
        found.extend(line.record for line in reader.read(key) if line.record is not None)
    return found


def sw_headers(
    body: str, msg_id: Optional[str] = None, secret: str = SECRET, at: Optional[datetime] = None
) -> dict[str, str]:
    """Headers signed by the reference `standardwebhooks` library (the sender side)."""
    moment = at or datetime.now(timezone.utc)
    msg_id = msg_id or f"msg_{time.monotonic_ns()}"
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }


def event(event_id: Optional[str] = "e1", name: str = "Lead", **overrides: Any) -> dict[str, Any]:
    """A valid email-sourced event with raw user data (the receiver hashes it)."""
    body: dict[str, Any] = {
        "event_name": name,
        "event_time": int(time.time()) - 30,
        "action_source": "email",
        "user_data": {"em": "Joe@Example.com", "ph": "(650)555-1212", "country": "US", "fn": "Mary"},
    }
    if event_id is not None:
        body["event_id"] = event_id
    body.update(overrides)
    return body


@pytest.fixture
def make_receiver(tmp_path) -> Iterator[Callable[..., Receiver]]:
    """Start receivers with given settings overrides (and optionally a store); all stopped after."""
    running: list[tuple[RunningReceiver, requests.Session]] = []

    def start(store: Optional[ObjectStore] = None, graph: Optional[GraphStandIn] = None, **overrides: Any) -> Receiver:
        from source_meta_capi.receiver.signatures import parse_webhook_secret

        fields: dict[str, Any] = {
            "staging_url": str(tmp_path / "bucket"),
            "webhook_keys": (parse_webhook_secret(SECRET),),
            "hub_secrets": (HUB_SECRET,),
            "forward_mode": "off",
            "commit_deadline_s": 10.0,
        }
        clock = FakeClock()
        client = None
        if graph is not None:
            fields.update(graph_base_url=graph.base_url, access_tokens={PIXEL: TOKEN})
        fields.update(overrides)
        if graph is not None:
            client = CapiEventsClient(
                graph.base_url,
                "v26.0",
                timeout=2.0,
                max_attempts=fields.get("forward_max_attempts", 5),
                sleep=clock.sleep,
                monotonic=clock.monotonic,
                rng=random.Random(7),
            )
        runtime = build_runtime(
            ReceiverSettings(**fields), store=store, events_client=client, monotonic=clock.monotonic
        )
        server = RunningReceiver(create_app(runtime=runtime))
        session = requests.Session()
        running.append((server, session))
        return Receiver(server.url, runtime, session, clock)

    yield start
    for server, session in running:
        session.close()
        server.stop()


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    """The Graph API stand-in with PIXEL registered and TOKEN valid."""
    with GraphStandIn(access_token=TOKEN, pixels=[PIXEL]) as stand_in:
        yield stand_in
