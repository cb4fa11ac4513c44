"""Version 2 of the staging format reads exactly like version 1: a bucket written by the
version-1 writer (its commit path, kept verbatim below) decodes, checks and deduplicates to the
same records as the same data written by today's writer, `schema_version` aside."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import orjson

from source_meta_capi.push.object_checks import ObjectScope, check_object
from source_meta_capi.push.record_checks import RecordTypeChecker
from source_meta_capi.push.streams import load_schema
from source_meta_capi.receiver.pipeline import RequestContext, body_digest, new_batch_id, process
from source_meta_capi.staging.identity_filter import IdentityFilter
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.records import CURSOR_FIELD, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION
from source_meta_capi.staging.writer import PlannedObject, StagingWriter

MOMENT = datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)
NOW = int(MOMENT.timestamp())
PIXEL = "1234567890"


def v1_commit(store: LocalFolderStore, planned: PlannedObject, records: Sequence[Mapping[str, Any]]) -> str:
    """The version-1 writer's commit (StagingWriter.commit + records.encode_records before v2)."""
    cursor_field = CURSOR_FIELD[planned.kind]
    stamped = [{**record, cursor_field: planned.arrival_iso, "schema_version": 1} for record in records]
    body = b"".join(orjson.dumps(record) + b"\n" for record in stamped)
    digest = hashlib.sha256(body).hexdigest()[:16]
    key = f"{planned.stem}{digest}.jsonl.gz"
    store.put_if_absent(key, gzip.compress(body, compresslevel=1, mtime=0))
    return key


def records() -> list[dict[str, Any]]:
    events = [
        {
            "event_name": "Purchase",
            "event_time": NOW - 60,
            "event_id": f"e{i}" if i % 3 else None,
            "action_source": "website",
            "event_source_url": "https://shop.example.com/",
            "user_data": {"em": f"a{i}@example.org", "client_ip_address": "203.0.113.7", "client_user_agent": "t/1"},
            "custom_data": {"currency": "USD", "value": 1.5 + i, "contents": [{"id": "sku", "quantity": i + 1}]},
        }
        for i in range(8)
    ]
    events.append(dict(events[1]))  # a repeated identity: dropped by the source either way
    body = {"data": events}
    raw = json.dumps(body).encode()
    context = RequestContext(PIXEL, "req-1", new_batch_id(), "unsigned", "msg_1", body_digest(raw))
    return [event.record for event in process(body, context, NOW).accepted]


def read_back(root: Path) -> list[dict[str, Any]]:
    store = LocalFolderStore(str(root))
    checker = RecordTypeChecker(load_schema("delivered_events"))
    identities = IdentityFilter()
    found: list[dict[str, Any]] = []
    for key in store.list_keys("events/"):
        scope = ObjectScope("delivered_events", True, PIXEL, None, frozenset(), key)
        checked = check_object(scope, store.get(key), checker, identities)
        assert checked.findings == []
        found.extend({k: v for k, v in r.items() if k != "_staged_object"} for r in checked.records)
    return found


def test_given_v1_bucket_when_read_then_same_records_as_v2_but_the_version(tmp_path: Path) -> None:
    staged = records()
    v1_store = LocalFolderStore(str(tmp_path / "v1"))
    v1_writer = StagingWriter(v1_store, writer_id="w", clock=lambda: MOMENT)
    v1_key = v1_commit(v1_store, v1_writer.plan(ObjectKind.EVENTS, PIXEL), staged)
    # A version-1 bucket also holds idempotency claims: no reader looks at them.
    v1_store.put_if_absent(f"idempotency/pixel_id={PIXEL}/{'0' * 40}/000001.json", b'{"object_stem":"x"}')
    v2_store = LocalFolderStore(str(tmp_path / "v2"))
    v2_writer = StagingWriter(v2_store, writer_id="w", clock=lambda: MOMENT)
    v2_key = v2_writer.commit(v2_writer.plan(ObjectKind.EVENTS, PIXEL), staged).key

    v1_raw = [line.record for line in StagingReader(v1_store).read(v1_key)]
    v2_raw = [line.record for line in StagingReader(v2_store).read(v2_key)]
    assert [r.pop("schema_version") for r in v1_raw] == [1] * len(staged)
    assert [r.pop("schema_version") for r in v2_raw] == [SCHEMA_VERSION] * len(staged) == [2] * len(staged)
    assert v1_raw == v2_raw
    # Byte for byte the same lines but the version digit: the splice writes what v1 encoded.
    v1_body = gzip.decompress(v1_store.get(v1_key))
    v2_body = gzip.decompress(v2_store.get(v2_key))
    assert v1_body.replace(b'"schema_version":1}', b'"schema_version":2}') == v2_body

    v1_read, v2_read = read_back(tmp_path / "v1"), read_back(tmp_path / "v2")
    assert len(staged) == 9 and len(v1_read) == 8  # the repeated identity, once
    assert {r.pop("schema_version") for r in v1_read} == {1} and {r.pop("schema_version") for r in v2_read} == {2}
    assert v1_read == v2_read
    assert {1, 2} == READABLE_SCHEMA_VERSIONS


def test_given_pre_encoded_lines_when_committed_then_same_object_as_records(tmp_path: Path) -> None:
    staged = records()
    writer = StagingWriter(LocalFolderStore(str(tmp_path)), writer_id="w", clock=lambda: MOMENT)
    planned = writer.plan(ObjectKind.EVENTS, PIXEL)
    from source_meta_capi.staging.records import encode_line

    by_lines = writer.commit_lines(planned, [encode_line(r) for r in staged])
    assert writer.commit(planned, staged).key == by_lines.key  # same content, same name
