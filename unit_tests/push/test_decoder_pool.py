"""RecordDecoderPool: the same verdicts as check_object, from spawned worker processes."""

from __future__ import annotations

import gzip
import json
import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from source_meta_capi.push.decoder_pool import (
    DecoderPoolError,
    EncodedObject,
    LazyDecoderPool,
    RecordDecoderPool,
    record_json,
)
from source_meta_capi.push.object_checks import ObjectScope, check_object
from source_meta_capi.push.record_checks import RecordTypeChecker
from source_meta_capi.push.streams import load_schema
from source_meta_capi.staging.identity_filter import IdentityFilter

SCHEMAS = {"delivered_events": load_schema("delivered_events")}


def _scope(pixel_id: str, n: int) -> ObjectScope:
    key = f"events/pixel_id={pixel_id}/date=2026-11-26/hour=10/20261126T1000{n:02d}000000Z-w-0000000000000000.jsonl.gz"
    return ObjectScope("delivered_events", True, pixel_id, "act_1", frozenset(), key)


def _object(pixel_id: str, event_ids: list[str], extra_line: bytes = b"") -> bytes:
    lines = [
        json.dumps(
            {
                "pixel_id": pixel_id,
                "event_id": event_id,
                "event_time": 1_764_000_000,
                "event_name": "Purchase",
                "action_source": "website" if event_id != "drifting" else None,
                "user_data": {"em": ["a" * 64]},
                "received_at": "2026-11-26T10:00:00.000000Z",
            }
        ).encode()
        for event_id in event_ids
    ]
    return gzip.compress(b"\n".join(lines + ([extra_line] if extra_line else [])) + b"\n")


def test_the_pool_gives_check_objects_verdicts_and_dedups_per_pixel_across_workers():
    objects = [
        (_scope("111", 1), _object("111", ["a", "b", "drifting"], b"{broken")),
        (_scope("222", 2), _object("222", ["a", "b"])),
        (_scope("111", 3), _object("111", ["b", "c"])),
        (_scope("222", 4), _object("222", ["b", "d"])),
    ]
    pool = RecordDecoderPool(2, SCHEMAS)
    try:
        decoded = [pool.decode(scope, data) for scope, data in objects]
    finally:
        pool.close()
    identities = IdentityFilter()
    checker = RecordTypeChecker(SCHEMAS["delivered_events"])
    for (scope, data), got in zip(objects, decoded, strict=True):
        expected = check_object(scope, data, checker, identities)
        assert _data(got) == [orjson.loads(record_json(r)) for r in expected.records]
        assert got.findings == expected.findings
        assert (got.repeats_dropped, got.filtered_by_event_type, got.readable) == (
            expected.repeats_dropped,
            expected.filtered_by_event_type,
            expected.readable,
        )
    assert [data["event_id"] for data in _data(decoded[2])] == ["c"]


def _data(encoded: EncodedObject) -> list[dict[str, Any]]:
    """The record data of an object's RECORD message chunks, checking the messages on the way."""
    messages = [orjson.loads(line) for chunk in encoded.chunks for line in chunk.lines.split(b"\n")]
    assert sum(chunk.count for chunk in encoded.chunks) == len(messages)
    assert all(m["type"] == "RECORD" and m["record"]["stream"] == "delivered_events" for m in messages)
    return [m["record"]["data"] for m in messages]


def test_pixels_are_spread_over_the_workers_in_the_order_they_are_first_seen() -> None:
    pool = RecordDecoderPool(2, SCHEMAS)
    try:
        owners = [pool._owner(pixel) for pixel in ("300", "100", "300", "200", "400")]
    finally:
        pool.close()
    assert owners[0] is owners[2] and owners[0] is not owners[1]
    assert owners[3] is owners[0] and owners[4] is owners[1]


def test_a_dead_worker_is_a_clear_error_not_a_hang():
    pool = RecordDecoderPool(1, SCHEMAS)
    try:
        pool.decode(_scope("111", 1), _object("111", ["a"]))
        for pid in list(pool._executors[0]._processes):  # the test kills the worker on purpose
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(DecoderPoolError, match="stopped unexpectedly"):
            for n in range(2, 50):
                pool.decode(_scope("111", n), _object("111", [f"e{n}"]))
    finally:
        pool.close()


def test_the_lazy_pool_starts_no_process_until_asked_and_refuses_work_once_closed():
    lazy = LazyDecoderPool(1, SCHEMAS)
    lazy.close()
    with pytest.raises(DecoderPoolError, match="closed"):
        lazy.get()


def test_record_json_leaves_out_top_level_nulls_only() -> None:
    record: dict[str, Any] = {"a": None, "b": {"c": None}, "d": 1}
    assert record_json(record) == b'{"b":{"c":null},"d":1}'


def test_a_host_that_cannot_start_processes_falls_back_to_in_thread_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_semaphores(*args: Any, **kwargs: Any) -> None:
        raise OSError("no /dev/shm")

    monkeypatch.setattr("source_meta_capi.push.decoder_pool.RecordDecoderPool.__init__", no_semaphores)
    lazy = LazyDecoderPool(1, SCHEMAS)
    assert lazy.get() is None and lazy.get() is None
    lazy.close()


@pytest.mark.parametrize(
    "staged",
    [
        b'{"pixel_id": "111", "event_id": "spaced"}  ',
        b'{"pixel_id":"111","event_id":"null","custom_data":null}',
        b'{"pixel_id":"111","event_id":"has-account","ad_account_id":"act_9"}',
        b'{"pixel_id":"111","event_id":"has-empty-account","ad_account_id":""}',
        b'{"pixel_id":"111","event_id":"nested","custom_data":{"_staged_object":1}}',
    ],
)
@pytest.mark.parametrize("account", ["act_1", None])
def test_a_spliced_or_re_encoded_line_holds_exactly_the_record_check_object_built(staged: bytes, account: Any) -> None:
    from source_meta_capi.push.decoder_pool import _record_lines
    from source_meta_capi.push.object_checks import CheckedObject

    scope = ObjectScope("delivered_events", True, "111", account, frozenset(), 'events/k"ey.jsonl.gz')
    record = orjson.loads(staged)
    if account and not record.get("ad_account_id"):
        record["ad_account_id"] = account
    record["_staged_object"] = scope.key
    (line,) = _record_lines(scope, CheckedObject(records=[record], lines=[staged]))
    assert orjson.loads(line) == orjson.loads(record_json(record))


def test_workers_end_when_the_sync_process_is_killed(tmp_path) -> None:
    import subprocess
    import sys
    import time

    script = tmp_path / "sync.py"
    script.write_text(
        "import os, sys\n"
        "from source_meta_capi.push.streams import load_schema\n"
        "from source_meta_capi.push.decoder_pool import RecordDecoderPool\n"
        "from unit_tests.push.test_decoder_pool import _object, _scope\n"
        "if __name__ == '__main__':\n"
        "    pool = RecordDecoderPool(1, {'delivered_events': load_schema('delivered_events')})\n"
        "    pool.decode(_scope('111', 1), _object('111', ['a']))\n"
        "    print(*pool._executors[0]._processes, flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        check=False,
    )
    (worker,) = [int(pid) for pid in done.stdout.split()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the decoder worker outlived the killed sync process")


def test_given_a_fresh_interpreter_when_the_worker_modules_load_then_airbyte_cdk_stays_out() -> None:
    # The decoder workers are spawned interpreters: the CDK would cost each one start-up time and memory.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import source_meta_capi.push.decoder_pool, source_meta_capi.push.object_checks\n"
        "import source_meta_capi.push.record_checks\n"
        "print(sorted(m for m in sys.modules if m.startswith('airbyte')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
