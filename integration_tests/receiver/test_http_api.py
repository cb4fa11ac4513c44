"""The receiver through a real uvicorn on 127.0.0.1, signed by the standardwebhooks library and by
plain HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from integration_tests.receiver.conftest import HUB_SECRET, PIXEL, SECRET, event, sw_headers
from source_meta_capi.staging.keys import ObjectKind

RAW_VALUES = ("Joe@Example.com", "joe@example.com", "(650)555-1212", "16505551212")


def test_given_library_signed_batch_when_posted_then_staged_hashed_and_answered(make_receiver) -> None:
    receiver = make_receiver()
    response = receiver.send(
        {
            "data": [event("e1"), event(None, name="Purchase", custom_data={"value": 3, "currency": "EUR"})],
            "test_event_code": "TEST1",
        }
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pixel_id"] == PIXEL and body["events_accepted"] == 2 and body["rejections"] == []
    assert body["event_ids"][0] == "e1" and body["event_ids"][1].startswith("capi-")
    assert response.headers["x-request-id"]
    records = receiver.records(ObjectKind.EVENTS)
    assert {r["event_id"] for r in records} == set(body["event_ids"])
    assert all(
        r["signature_status"] == "verified:standard_webhooks" and r["test_event_code"] == "TEST1" for r in records
    )
    assert all(r["received_at"].endswith("Z") and r["schema_version"] == 2 for r in records)
    assert not any(value in json.dumps(records) for value in RAW_VALUES)


def test_given_plain_hmac_hub_signature_when_posted_then_accepted(make_receiver) -> None:
    receiver = make_receiver()
    raw = json.dumps({"data": [event("hub-1")]}).encode()
    signature = "sha256=" + hmac.new(HUB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = receiver.post(raw, {"content-type": "application/json", "X-Hub-Signature-256": signature})
    assert response.status_code == 200, response.text
    assert receiver.records(ObjectKind.EVENTS)[0]["signature_status"] == "verified:hub_sha256"
    # Same body again: staged again, same identity, a new batch (the source emits it once).
    again = receiver.post(raw, {"content-type": "application/json", "X-Hub-Signature-256": signature})
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    records = receiver.records(ObjectKind.EVENTS)
    assert {(r["event_id"], r["event_time"]) for r in records} == {("hub-1", records[0]["event_time"])}
    assert again.json()["batch_id"] != response.json()["batch_id"]


def test_given_bad_signatures_when_posted_then_401_with_reason_and_counted(make_receiver) -> None:
    receiver = make_receiver()
    raw = json.dumps({"data": [event()]})
    cases = {
        "no_matching_signature": sw_headers(raw, secret="whsec_" + "A" * 43),
        "timestamp_too_old": sw_headers(raw, at=datetime.now(timezone.utc) - timedelta(minutes=6)),
        "timestamp_too_new": sw_headers(raw, at=datetime.now(timezone.utc) + timedelta(minutes=6)),
        "missing_signature": {"content-type": "application/json"},
        "malformed_signature": {**sw_headers(raw), "webhook-signature": "v1"},
    }
    for reason, headers in cases.items():
        response = receiver.post(raw, headers)
        assert response.status_code == 401, (reason, response.text)
        error = response.json()["error"]
        assert (error["code"], error["reason"], error["pixel_id"]) == ("invalid_signature", reason, PIXEL)
    assert receiver.objects(ObjectKind.EVENTS) == []
    metrics = receiver.session.get(f"{receiver.url}/metrics").text
    assert 'meta_capi_receiver_signature_failures_total{reason="timestamp_too_old"} 1.0' in metrics


def test_given_retried_webhook_id_when_posted_again_then_same_answer_and_same_identities_staged(
    make_receiver,
) -> None:
    receiver = make_receiver()
    raw = json.dumps(
        {"data": [event("once"), event(None, name="Purchase", custom_data={"value": 3, "currency": "EUR"})]}
    )
    first = receiver.post(raw, sw_headers(raw, "msg_fixed"))
    second = receiver.post(raw, sw_headers(raw, "msg_fixed"))
    assert first.status_code == second.status_code == 200
    volatile = ("batch_id", "request_id", "forwarding")
    assert {k: v for k, v in second.json().items() if k not in volatile} == {
        k: v for k, v in first.json().items() if k not in volatile
    }
    assert "idempotent-replayed" not in second.headers
    # Staged twice (no per-request claim), with the same identities: derived ids are deterministic.
    records = receiver.records(ObjectKind.EVENTS)
    identities = [(r["event_id"], r["event_time"]) for r in records]
    assert len(records) == 4 and len(set(identities)) == 2
    assert {r["batch_id"] for r in records} == {first.json()["batch_id"], second.json()["batch_id"]}


def test_given_reused_webhook_id_with_a_different_body_when_posted_then_both_bodies_staged(make_receiver) -> None:
    receiver = make_receiver()
    first_raw = json.dumps({"data": [event("sender-a-1")]})
    other_raw = json.dumps({"data": [event("sender-b-1")]})
    first = receiver.post(first_raw, sw_headers(first_raw, "msg_1"))
    other = receiver.post(other_raw, sw_headers(other_raw, "msg_1"))
    assert first.status_code == other.status_code == 200
    assert other.json()["event_ids"] == ["sender-b-1"] and "idempotent-replayed" not in other.headers
    assert sorted(r["event_id"] for r in receiver.records(ObjectKind.EVENTS)) == ["sender-a-1", "sender-b-1"]


def test_given_one_unencodable_request_beside_a_good_one_when_posted_concurrently_then_good_200_bad_rejected(
    make_receiver,
) -> None:
    receiver = make_receiver()
    deep: dict = {"leaf": 1}
    for _ in range(300):  # parses (orjson reads 1,024 levels), cannot be staged (254)
        deep = {"n": deep}
    bad = event("too-deep", custom_data={"value": 1, "currency": "USD", "extra": deep})
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(receiver.send, {"data": [event(f"good-{n}")]}) for n in range(6)]
        futures.insert(3, pool.submit(receiver.send, {"data": [bad]}))
        answers = [future.result() for future in futures]
    refused = answers.pop(3)
    assert [a.status_code for a in answers] == [200] * 6
    assert refused.status_code == 422, refused.text
    (rejection,) = refused.json()["rejections"]
    assert (rejection["event_id"], rejection["field"]) == ("too-deep", "custom_data")
    assert sorted(r["event_id"] for r in receiver.records(ObjectKind.EVENTS)) == sorted(f"good-{n}" for n in range(6))
    (letter,) = receiver.records(ObjectKind.DEAD_LETTERS)
    assert letter["event_id"] == "too-deep" and "fields" in letter["event"]


def test_given_bad_bodies_when_posted_then_precise_4xx(make_receiver) -> None:
    receiver = make_receiver(max_body_bytes=2048)
    big = json.dumps({"data": [event(f"e{i}") for i in range(40)]})
    too_large = receiver.post(big, sw_headers(big))
    assert too_large.status_code == 413 and too_large.json()["error"]["field"] == "body"
    for raw, status, field in (
        ("{not json", 400, "body"),
        ('{"data": [NaN]}', 400, "body"),
        ('{"data": []}', 422, "data"),
    ):
        response = receiver.post(raw, sw_headers(raw))
        assert response.status_code == status, raw
        assert response.json()["error"]["field"] == field and response.json()["error"]["pixel_id"] == PIXEL
    bad_pixel = receiver.post("{}", sw_headers("{}"), pixel_id="12ab")
    assert bad_pixel.status_code == 400 and bad_pixel.json()["error"]["field"] == "pixel_id"
    missing = receiver.session.get(f"{receiver.url}/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_given_partly_invalid_batch_when_posted_then_good_staged_bad_answered_and_dead_lettered(make_receiver) -> None:
    receiver = make_receiver()
    old = event("too-old", event_time=int(time.time()) - 8 * 86400)
    response = receiver.send({"data": [event("fine"), old]})
    assert response.status_code == 200
    assert response.json()["rejections"] == [
        {"index": 1, "event_id": "too-old", "field": "event_time", "reason": "event_time is more than 7 days old"}
    ]
    assert [r["event_id"] for r in receiver.records(ObjectKind.EVENTS)] == ["fine"]
    (letter,) = receiver.records(ObjectKind.DEAD_LETTERS)
    assert (letter["event_id"], letter["stage"], letter["field"]) == ("too-old", "intake", "event_time")
    assert not any(value in json.dumps(letter) for value in RAW_VALUES)
    everything_bad = receiver.send({"data": [old]})
    assert everything_bad.status_code == 422
    assert (
        everything_bad.json()["error"]["event_ids"] == ["too-old"]
        and everything_bad.json()["error"]["field"] == "event_time"
    )


def test_given_concurrent_clients_when_posting_then_group_commit_shares_objects(make_receiver) -> None:
    receiver = make_receiver()

    def post(i: int) -> int:
        return int(receiver.send({"data": [event(f"c{i}")]}).status_code)

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, range(64)))
    assert statuses == [200] * 64
    assert sorted(r["event_id"] for r in receiver.records(ObjectKind.EVENTS)) == sorted(f"c{i}" for i in range(64))
    assert len(receiver.objects(ObjectKind.EVENTS)) < 64


def test_given_probes_when_called_then_health_ready_and_metrics_without_personal_data(make_receiver) -> None:
    receiver = make_receiver()
    receiver.send({"data": [event("m1")]})
    assert receiver.session.get(f"{receiver.url}/healthz").json() == {"status": "ok"}
    ready = receiver.session.get(f"{receiver.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = receiver.session.get(f"{receiver.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert f'meta_capi_receiver_events_accepted_total{{pixel_id="{PIXEL}"}} 1.0' in metrics.text
    assert "m1" not in metrics.text and SECRET not in metrics.text
    assert not any(value in metrics.text for value in RAW_VALUES)


def test_given_pixel_allowlist_when_other_pixel_posts_then_404_after_authentication(make_receiver) -> None:
    receiver = make_receiver(pixel_ids=frozenset({PIXEL}))
    assert receiver.send({"data": [event()]}, pixel_id="999").status_code == 404
    assert receiver.post("{}", {}, pixel_id="999").status_code == 401


class _CountingStore:
    """A local store that counts the puts, listings and reads the receiver makes."""

    def __init__(self, root: str) -> None:
        from source_meta_capi.staging.local_store import LocalFolderStore

        self.inner = LocalFolderStore(root)
        self.puts: list[str] = []
        self.lists = 0
        self.gets = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.puts.append(key.split("/", 1)[0])
        return self.inner.put_if_absent(key, data)

    def list_keys(self, prefix: str, start_after=None):
        self.lists += 1
        return self.inner.list_keys(prefix, start_after)

    def get(self, key: str) -> bytes:
        self.gets += 1
        return self.inner.get(key)


def test_given_a_delivery_and_its_retry_then_one_put_each_and_no_lookup(make_receiver, tmp_path) -> None:
    store = _CountingStore(str(tmp_path / "counted"))
    receiver = make_receiver(store=store)
    first = receiver.send({"data": [event("put-once")]}, msg_id="msg_put_once")
    assert first.status_code == 200, first.text
    assert (store.puts, store.lists, store.gets) == (["events"], 0, 0)
    retry = receiver.send({"data": [event("put-once")]}, msg_id="msg_put_once")
    assert retry.status_code == 200 and retry.json()["event_ids"] == ["put-once"]
    assert (store.puts, store.lists, store.gets) == (["events", "events"], 0, 0)


def test_given_event_missing_attribution_fields_then_schema_drift_logged_and_counted(make_receiver, caplog) -> None:
    import logging

    receiver = make_receiver()
    drifted = event("drift-1")
    del drifted["action_source"]
    with caplog.at_level(logging.ERROR, logger="meta_capi_receiver"):
        response = receiver.send({"data": [event("fine-1"), drifted]})
    assert response.status_code == 200 and response.json()["events_rejected"] == 1
    (line,) = [r for r in caplog.records if r.getMessage() == "schema drift"]
    context = line.__dict__["ctx"]
    assert context["pixel_id"] == PIXEL and context["event_ids"] == ["drift-1"] and context["field"] == "action_source"
    import requests

    metrics = requests.get(f"{receiver.url}/metrics", timeout=10).text
    assert f'meta_capi_receiver_schema_drift_total{{field="action_source",pixel_id="{PIXEL}"}} 1.0' in metrics


def test_given_requests_when_staged_then_one_line_per_group_and_a_line_per_rejection_saying_why(
    make_receiver, caplog
) -> None:
    import logging

    receiver = make_receiver()
    late = event("late-1", event_time=int(time.time()) - 9 * 86400)
    with caplog.at_level(logging.INFO, logger="meta_capi_receiver"):
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda n: receiver.send({"data": [event(f"ok-{n}")]}), range(8)))
        mixed = receiver.send({"data": [event("ok-mixed"), late]})
    assert [a.status_code for a in answers] == [200] * 8 and mixed.status_code == 200
    # The receiver's own lines (other libraries may log at INFO through the same capture).
    contexts = [(r.getMessage(), r.__dict__["ctx"]) for r in caplog.records if r.name == "meta_capi_receiver"]
    staged = [ctx for message, ctx in contexts if message == "batch staged"]
    assert sorted(i for ctx in staged for i in ctx["request_ids"]) == sorted(
        [a.headers["x-request-id"] for a in answers] + [mixed.headers["x-request-id"]]
    )
    assert len(staged) == len(receiver.objects(ObjectKind.EVENTS)) < 9
    assert sum(ctx["rejected"] for ctx in staged) == 1
    (rejected,) = [ctx for message, ctx in contexts if message == "events rejected"]
    assert rejected["pixel_id"] == PIXEL and rejected["event_ids"] == ["late-1"]
    assert rejected["request_id"] == mixed.headers["x-request-id"] and rejected["field"] == "event_time"
    assert "late-1" in rejected["reason"] and "event_time" in rejected["reason"]
    # No per-request line for the accepted requests (event_time also rings the schema-drift alarm).
    assert {message for message, _ in contexts} == {"batch staged", "events rejected", "schema drift"}
