"""Scenario 6b: hostile input, second round (issue 14). One bad event never sinks its
neighbours, nothing is silently dropped, nothing is read from outside the bucket. Each test
reproduces one red-team finding through a real request to the receiver or a real source run.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from integration_tests.reliability import audit
from integration_tests.reliability.asgi_client import RawResponse, call
from integration_tests.reliability.traffic import PIXEL, SECRET, make_event, sign, staged_identities
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.receiver.signatures import parse_webhook_secret
from source_meta_capi.staging.local_store import LocalFolderStore


class Receiver:
    """An in-process receiver on a local bucket, answering real ASGI requests."""

    def __init__(self, root: Path, **overrides: Any) -> None:
        settings = dict(
            staging_url=str(root),
            webhook_keys=(parse_webhook_secret(SECRET),),
            forward_mode="off",
            commit_deadline_s=10,
        )
        settings.update(overrides)
        self.runtime = build_runtime(ReceiverSettings(**settings))
        self.store = LocalFolderStore(str(root))
        audit.register_store(self.store)
        self.app = create_app(runtime=self.runtime, lifespan_owned=False)
        self.loop = asyncio.new_event_loop()

    def post(self, body: bytes, headers: dict[str, str], pixel: str = PIXEL) -> RawResponse:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        return self.loop.run_until_complete(call(self.app, "POST", f"/v1/pixels/{pixel}/events".encode(), raw, body))

    def get(self, path: str) -> RawResponse:
        return self.loop.run_until_complete(call(self.app, "GET", path.encode(), [], b""))

    def close(self) -> None:
        self.loop.close()
        self.runtime.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Any:
    created = Receiver(tmp_path / "bucket")
    yield created
    created.close()


def _with_nesting(body: dict[str, Any], levels: int) -> bytes:
    """The body as JSON with `"NEST"` replaced by an object `levels` deep (too deep for json.dumps)."""
    return json.dumps(body).replace('"NEST"', '{"n":' * levels + "1" + "}" * levels).encode()


def _dead_letters(store: LocalFolderStore) -> list[dict[str, Any]]:
    from source_meta_capi.staging.records import decode_object

    letters = []
    for key in store.list_keys("dead_letters/"):
        letters.extend(line.record for line in decode_object(key, store.get(key)) if line.record)
    return letters


@pytest.mark.parametrize("levels", [40, 260, 600, 1000])
@pytest.mark.parametrize("field", ["custom_data", "original_event_data", "app_data", "attribution_data"])
def test_given_a_deeply_nested_event_beside_a_valid_one_when_posted_then_only_it_is_refused_and_dead_lettered(
    receiver: Receiver, field: str, levels: int
) -> None:
    good, bad = make_event("round2-good", tag="r2"), make_event("round2-deep", tag="r2")
    bad[field] = "NEST"
    body = _with_nesting({"data": [good, bad]}, levels)
    response = receiver.post(body, sign(body, f"msg_deep_{field}_{levels}"))
    assert response.status == 200, (response.status, response.body[:300])
    document = response.json()
    assert document["events_accepted"] == 1 and document["events_rejected"] == 1
    (rejection,) = document["rejections"]
    assert rejection["event_id"] == "round2-deep" and rejection["field"].startswith(field)
    assert "deeper than" in rejection["reason"]
    assert {identity[1] for identity in staged_identities(receiver.store)} == {"round2-good"}
    (letter,) = _dead_letters(receiver.store)
    assert letter["event_id"] == "round2-deep" and "deeper than" in letter["reason"]
    assert field in letter["event"]["fields"]  # a safe copy: field names only
    # A neighbour request for the same pixel right after is not affected either.
    other = json.dumps({"data": [make_event("round2-next", tag="r2")]}).encode()
    assert receiver.post(other, sign(other, f"msg_next_{field}_{levels}")).status == 200


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda e: e["user_data"].__setitem__("ph", [f"1555000{i:04d}" for i in range(5000)]), "user_data.ph"),
        (lambda e: e["custom_data"].__setitem__("note", "x" * 70_000), "custom_data.note"),
        (lambda e: e["custom_data"].__setitem__("wide", {f"k{i}": i for i in range(1500)}), "custom_data.wide"),
        (lambda e: e["custom_data"].__setitem__("tags", list(range(20_000))), "custom_data.tags"),
    ],
    ids=["user_data_list", "long_string", "many_keys", "long_list"],
)
def test_given_an_event_past_a_size_limit_when_posted_then_it_alone_is_refused_with_its_reason(
    receiver: Receiver, mutate: Any, field: str
) -> None:
    good, bad = make_event("size-good", tag="r2"), make_event("size-bad", tag="r2")
    bad.setdefault("custom_data", {})
    mutate(bad)
    body = json.dumps({"data": [good, bad]}).encode()
    response = receiver.post(body, sign(body, f"msg_size_{field}"))
    assert response.status == 200, (response.status, response.body[:300])
    (rejection,) = response.json()["rejections"]
    assert rejection["event_id"] == "size-bad" and rejection["field"] == field, rejection
    assert {identity[1] for identity in staged_identities(receiver.store)} == {"size-good"}
