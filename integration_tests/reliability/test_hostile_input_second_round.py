"""Scenario 6b: hostile input, second round (issue 14). One bad event never sinks its
neighbours, nothing is silently dropped, nothing is read from outside the bucket. Each test
reproduces one red-team finding through a real request to the receiver or a real source run.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import FailureType

from integration_tests.reliability import audit
from integration_tests.reliability.asgi_client import RawResponse, call
from integration_tests.reliability.traffic import (
    OTHER_PIXEL,
    PIXEL,
    SECRET,
    hub_headers,
    make_event,
    sign,
    staged_identities,
)
from integration_tests.support.push_harness import records, sync
from source_meta_capi.push import streams as push_streams
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.runtime import build_runtime
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.receiver.signatures import parse_webhook_secret
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.records import MAX_LINE_BYTES, MAX_OBJECT_BYTES
from source_meta_capi.staging.sample_data import sample_event


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


# --- The source over a bucket an attacker can write to (findings 4, 5 and 7, read side) ---

SYNC_NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
HOUR = f"events/pixel_id={PIXEL}/date=2026-11-26/hour=10/"


@pytest.fixture
def bucket_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(push_streams, "utc_now", lambda: SYNC_NOW)
    root = tmp_path / "bucket"
    root.mkdir()
    return root


def _key(seq: int, pixel: str = PIXEL) -> str:
    return f"events/pixel_id={pixel}/date=2026-11-26/hour=10/20261126T1000{seq:02d}000000Z-zz-{seq:016d}.jsonl.gz"


def _good_line(seq: int, pixel: str = PIXEL) -> bytes:
    event = sample_event(random.Random(seq), pixel, 1_764_150_000, seq)
    return json.dumps(event | {"received_at": "2026-11-26T10:00:00.000000Z"}).encode() + b"\n"


def _source_config(root: Path, policy: str = "warn") -> dict[str, Any]:
    return {
        "pixels": [{"pixel_id": PIXEL}, {"pixel_id": OTHER_PIXEL}],
        "staging": {"bucket_url": root.as_uri(), "settle_seconds": 120, "on_corrupt_object": policy},
    }


def _sync_in_time(config: dict[str, Any], expect_failure: bool = False, seconds: float = 60) -> Any:
    """A source run that must finish: a FIFO read once hung a sync forever."""
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("output", sync(config, ["delivered_events"], expect_failure=expect_failure)),
        daemon=True,
    )
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the sync hung"
    return result["output"]


def _logs(output: Any) -> str:
    return " ".join(m.log.message for m in output.logs if m.log)


def test_given_symlinks_and_a_fifo_named_like_objects_when_synced_then_only_regular_files_inside_the_bucket_are_read(
    bucket_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.jsonl.gz").write_bytes(gzip.compress(_good_line(90)))
    secret_file = outside / "system-file"
    secret_file.write_bytes(b"root:x:0:0:SECRET-FIRST-BYTES\n")
    hour = bucket_root / HOUR
    hour.mkdir(parents=True)
    (bucket_root / _key(1)).write_bytes(gzip.compress(_good_line(1)))
    (bucket_root / _key(2)).symlink_to(outside / "stolen.jsonl.gz")
    (bucket_root / _key(3)).symlink_to(secret_file)
    os.mkfifo(bucket_root / _key(4))
    output = _sync_in_time(_source_config(bucket_root))
    emitted = records(output, "delivered_events")
    assert [r["_staged_object"] for r in emitted] == [_key(1)]
    logs = _logs(output)
    assert all(f"{_key(n)}: not a regular file inside the bucket" in logs for n in (2, 3, 4)), logs
    assert "SECRET-FIRST-BYTES" not in logs and "root:x" not in logs
    failed = _sync_in_time(_source_config(bucket_root, "fail"), expect_failure=True)
    error = failed.errors[0].trace.error
    assert error.failure_type == FailureType.config_error and _key(2) in error.message


def test_given_a_pixel_folder_symlinked_outside_the_bucket_when_synced_then_refused_as_config_error(
    bucket_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "date=2026-11-26" / "hour=10"
    outside.mkdir(parents=True)
    (outside / _key(5, OTHER_PIXEL).rsplit("/", 1)[1]).write_bytes(gzip.compress(_good_line(5, OTHER_PIXEL)))
    (bucket_root / "events").mkdir()
    (bucket_root / "events" / f"pixel_id={OTHER_PIXEL}").symlink_to(tmp_path / "outside")
    output = _sync_in_time(_source_config(bucket_root), expect_failure=True)
    assert records(output, "delivered_events") == []
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error and "symbolic link" in error.message


@pytest.mark.parametrize(
    "header", [b"not json", b'{"other": [0, 1]}', b'{"KEY": "ab"}', b'{"KEY": [null, 1]}', b'{"KEY": [-5, 99999]}']
)
def test_given_a_pack_object_with_a_bad_header_when_synced_then_the_corrupt_object_policy_decides(
    bucket_root: Path, header: bytes
) -> None:
    (bucket_root / HOUR).mkdir(parents=True)
    (bucket_root / _key(1)).write_bytes(gzip.compress(_good_line(1)))
    bad = b"\x00meta-capi-pack-1\n" + header.replace(b"KEY", _key(2).encode()) + b"\n" + gzip.compress(_good_line(2))
    (bucket_root / _key(2)).write_bytes(bad)
    output = _sync_in_time(_source_config(bucket_root))
    assert [r["_staged_object"] for r in records(output, "delivered_events")] == [_key(1)]
    # Staging format 2 writes no pack files: one with a pack header is an object that is not a
    # valid gzip stream, counted under warn (and a config_error under fail), never a transient.
    assert f"{_key(2)}: not a valid gzip stream" in _logs(output)
    failed = _sync_in_time(_source_config(bucket_root, "fail"), expect_failure=True)
    error = failed.errors[0].trace.error
    assert error.failure_type == FailureType.config_error and _key(2) in error.message


def test_given_unhashed_user_data_a_gzip_bomb_and_a_huge_line_when_synced_then_each_is_corrupt_and_nothing_leaks(
    bucket_root: Path,
) -> None:
    (bucket_root / HOUR).mkdir(parents=True)
    raw = json.loads(_good_line(2))
    raw["user_data"] = {"em": ["jane.doe@example.com"], "ph": "15551234567"}
    (bucket_root / _key(1)).write_bytes(gzip.compress(_good_line(1) + json.dumps(raw).encode() + b"\n"))
    (bucket_root / _key(3)).write_bytes(gzip.compress(b" " * (MAX_OBJECT_BYTES + 1), compresslevel=9))
    (bucket_root / _key(4)).write_bytes(gzip.compress(b"x" * (MAX_LINE_BYTES + 1) + b"\n", compresslevel=1))
    started = time.monotonic()
    output = _sync_in_time(_source_config(bucket_root))
    seconds = time.monotonic() - started
    emitted = records(output, "delivered_events")
    assert [r["_staged_object"] for r in emitted] == [_key(1)] and len(emitted) == 1
    logs = _logs(output)
    assert "jane.doe" not in json.dumps(emitted) + logs
    assert "user_data.em is not a SHA-256 or HMAC hex hash" in logs
    assert "decompresses to more than" in logs and "holds a line longer than" in logs
    assert seconds < 30


# --- Finding 6: no secret in any startup error ---

MARKER = "MARKERSECRET7f3a9c"
MALFORMED_SHAPES = [
    MARKER,
    f"{MARKER}=1234567890",  # pixel and token swapped
    f"1234567890={MARKER},{MARKER}",
    f"whsec_{MARKER}",
    f"whsec_{MARKER}!!,whsec_",
    f'{{"{MARKER}": "1234567890"}}',
    f'{{"1234567890": ["{MARKER}"]}}',
    f'{{"{MARKER}',
    # Not references (a reference names a secret and is quoted by design): look-alikes.
    f"arn:aws:{MARKER}",
    f"secretsmanager{MARKER}#",
    f"1234567890=secretsmanager:name,{MARKER}=1",
    f" {MARKER} , , {MARKER}= ",
]


def _secret_variables() -> list[str]:
    from source_meta_capi.receiver.env_table import environment_variables

    found = [variable.name for variable in environment_variables() if variable.secret]
    return [*found, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


def test_given_every_secret_variable_malformed_when_settings_load_then_no_error_quotes_it() -> None:
    from source_meta_capi.receiver.settings import SettingsError, load_settings

    assert {"META_CAPI_ACCESS_TOKENS", "META_CAPI_WEBHOOK_SECRETS", "META_CAPI_HUB_SECRETS"} <= set(_secret_variables())
    errors = 0
    for variable in _secret_variables():
        for shape in MALFORMED_SHAPES:
            # Alone, and beside other invalid settings (the unsigned switch, a bad pixel list).
            for extra in ({}, {"META_CAPI_ALLOW_UNSIGNED": "true", "META_CAPI_PIXEL_IDS": "x1"}):
                try:
                    load_settings({variable: shape, **extra, "META_CAPI_SECRETS_ENDPOINT_URL": "http://127.0.0.1:9"})
                except SettingsError as error:
                    errors += 1
                    assert MARKER not in str(error), (variable, shape, str(error))
    assert errors >= len(_secret_variables()) * len(MALFORMED_SHAPES)


def test_given_access_tokens_with_pixel_and_token_swapped_when_the_receiver_starts_then_stderr_hides_the_token(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "META_CAPI_STAGING_URL": str(tmp_path / "bucket"),
        "META_CAPI_ACCESS_TOKENS": f"EAAB{MARKER}=1234567890",
    }
    run = subprocess.run(
        [sys.executable, "-m", "source_meta_capi.receiver.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "META_CAPI_ACCESS_TOKENS" in run.stderr and "pixel_id=token" in run.stderr
    assert MARKER not in run.stdout + run.stderr


# --- Finding 3: the pixel in the URL is bound to the credentials ---

OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def _captured(pixel: str, message_id: str, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"data": [make_event(f"bind-{message_id}", tag="bind")]}).encode()
    return body, sign(body, message_id, secret=secret)


def test_given_a_pixel_bound_webhook_id_when_replayed_to_another_pixel_then_refused_even_without_strict_mode(
    receiver: Receiver,
) -> None:
    body, headers = _captured(PIXEL, f"{PIXEL}:msg_bound")
    assert receiver.post(body, headers, PIXEL).status == 200
    replay = receiver.post(body, headers, OTHER_PIXEL)
    assert replay.status == 401 and replay.json()["error"]["reason"] == "pixel_mismatch"
    # The migration path: an unbound sender keeps working while the binding is off.
    body, headers = _captured(PIXEL, "msg_legacy")
    assert receiver.post(body, headers, PIXEL).status == 200


def test_given_per_pixel_secrets_when_a_captured_request_is_replayed_to_another_pixel_then_refused(
    tmp_path: Path,
) -> None:
    hub_pixel, hub_other = "hub-secret-of-pixel-a-0123", "hub-secret-of-pixel-b-4567"
    bound = Receiver(
        tmp_path / "bucket",
        webhook_keys_by_pixel={
            PIXEL: (parse_webhook_secret(SECRET),),
            OTHER_PIXEL: (parse_webhook_secret(OTHER_SECRET),),
        },
        hub_secrets_by_pixel={PIXEL: (hub_pixel,), OTHER_PIXEL: (hub_other,)},
        webhook_keys=(),
    )
    try:
        body, headers = _captured(PIXEL, "msg_per_pixel")
        assert bound.post(body, headers, PIXEL).status == 200
        replay = bound.post(body, headers, OTHER_PIXEL)
        assert replay.status == 401 and replay.json()["error"]["reason"] == "no_matching_signature"
        hub_body = json.dumps({"data": [make_event("bind-hub", tag="bind")]}).encode()
        hub = hub_headers(hub_body, secret=hub_pixel)
        assert bound.post(hub_body, hub, PIXEL).status == 200
        assert bound.post(hub_body, hub, OTHER_PIXEL).status == 401
        assert {identity[0] for identity in staged_identities(bound.store)} == {PIXEL}
    finally:
        bound.close()


def test_given_strict_pixel_binding_when_a_shared_secret_signs_without_the_pixel_then_refused(tmp_path: Path) -> None:
    strict = Receiver(tmp_path / "bucket", signature_pixel_binding="strict")
    try:
        body, headers = _captured(PIXEL, "msg_unbound")
        refused = strict.post(body, headers, PIXEL)
        assert refused.status == 401 and refused.json()["error"]["reason"] == "pixel_not_bound"
        body, headers = _captured(PIXEL, f"{PIXEL}:msg_ok")
        assert strict.post(body, headers, PIXEL).status == 200
        assert strict.post(body, headers, OTHER_PIXEL).status == 401
    finally:
        strict.close()


# --- Finding 7: personal data outside user_data, caps, pixel ids, logs, readiness, limits ---


def _store_text(store: LocalFolderStore) -> str:
    from source_meta_capi.staging.records import object_lines

    return "\n".join(
        line.decode()
        for key in store.list_keys("")
        if key.endswith(".gz")
        for line in object_lines(key, store.get(key))
    )


def test_given_personal_data_in_free_form_fields_and_urls_when_posted_then_stripped_before_staging(
    receiver: Receiver,
) -> None:
    event = make_event("pii-outside", tag="pii")
    event["custom_data"].update(
        name="Jane Roe",
        customer="Jane Q. Roe",
        note="call Jane back",
        shipping={"mail": "jane.q.roe@example.net"},
        gift_message="for jroe@example.org",
    )
    event["original_event_data"] = {"event_name": "Purchase", "contact": "jane.orig@example.com"}
    event["attribution_data"] = {"ad_id": "123", "customerName": "Jane Attr"}
    event["app_data"] = {"advertiser_tracking_enabled": 1, "email": "jane.app@example.com"}
    event["event_source_url"] = (
        "https://shop.example.com/thanks?order=42&email=jane.url%40example.com&tel=%2B1%20555%20123%204567#top"
    )
    event["referrer_url"] = "https://shop.example.com/?utm_source=news&u=jane.ref@example.com"
    body = json.dumps({"data": [event]}).encode()
    response = receiver.post(body, sign(body, "msg_pii_outside"))
    assert response.status == 200 and response.json()["events_accepted"] == 1, response.body[:300]
    staged = _store_text(receiver.store)
    for raw in (
        "Jane Roe",
        "Jane Q. Roe",
        "call Jane",
        "jane.q.roe",
        "jroe@",
        "jane.orig",
        "Jane Attr",
        "jane.app",
        "jane.url",
        "555 123 4567",
        "jane.ref",
    ):
        assert raw not in staged, raw
    record = json.loads(staged.splitlines()[0])
    assert record["event_source_url"] == "https://shop.example.com/thanks?order=42#top"
    assert record["referrer_url"] == "https://shop.example.com/?utm_source=news"
    assert record["custom_data"]["value"] == 12.5 and record["attribution_data"] == {"ad_id": "123"}


@pytest.mark.parametrize("pixel", ["01", "0", "0001234567890"])
def test_given_a_pixel_id_with_a_leading_zero_when_posted_then_refused_not_stored_as_another_pixel(
    receiver: Receiver, pixel: str
) -> None:
    body = json.dumps({"data": [make_event("zero-pixel", tag="r2")]}).encode()
    response = receiver.post(body, sign(body, "msg_zero_pixel"), pixel)
    assert response.status == 400 and response.json()["error"]["code"] == "invalid_pixel_id"
    assert list(receiver.store.list_keys("")) == []


def test_given_a_log_line_with_line_separators_when_logged_then_the_json_escapes_them() -> None:
    import io
    import logging

    from source_meta_capi.receiver.json_logging import JsonFormatter

    record = logging.LogRecord("meta_capi_receiver", logging.INFO, __file__, 1, "a\u2028b\u2029c", None, None)
    line = JsonFormatter().format(record)
    assert "\u2028" not in line and "\u2029" not in line and "\\u2028" in line
    assert json.loads(line)["message"] == "a\u2028b\u2029c"
    del io


def test_given_a_read_only_store_when_readyz_is_asked_then_not_ready(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert receiver.get("/readyz").status == 200
    real = os.statvfs

    class ReadOnly:
        def __init__(self, path: Any) -> None:
            self._status = real(path)

        def __getattr__(self, name: str) -> Any:
            value = getattr(self._status, name)
            return value | os.ST_RDONLY if name == "f_flag" else value

    monkeypatch.setattr(os, "statvfs", ReadOnly)  # as a read-only remount reports it
    answer = receiver.get("/readyz")
    assert answer.status == 503 and answer.json()["reason"] == "StoreAccessError"


def test_given_a_disk_that_fills_during_a_put_when_it_fails_then_no_temp_file_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from source_meta_capi.staging.store import StoreUnavailableError

    store = LocalFolderStore(str(tmp_path / "bucket"))

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreUnavailableError, match="No space left"):
        store.put_if_absent(_key(1), b"x" * 1000)
    assert [p.name for p in (tmp_path / "bucket").rglob("*") if p.is_file()] == []


def test_given_a_body_that_never_finishes_or_huge_headers_when_posted_then_408_and_431(tmp_path: Path) -> None:
    slow = Receiver(tmp_path / "bucket", body_timeout_s=0.3)
    try:
        body = json.dumps({"data": [make_event("slow-body", tag="r2")]}).encode()
        headers = [(k.encode(), v.encode()) for k, v in sign(body, "msg_slow").items()]
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/v1/pixels/{PIXEL}/events",
            "raw_path": f"/v1/pixels/{PIXEL}/events".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
        first = True
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": body[:10], "more_body": True}
            await asyncio.sleep(3600)  # the sender stalls
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        started = time.monotonic()
        slow.loop.run_until_complete(asyncio.wait_for(slow.app(scope, receive, send), 10))
        assert sent[0]["status"] == 408 and time.monotonic() - started < 5
        big = {**sign(body, "msg_big"), "x-padding": "a" * 20_000}
        assert slow.post(body, big).status == 431
    finally:
        slow.close()
