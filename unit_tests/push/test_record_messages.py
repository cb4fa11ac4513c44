"""record_messages: RECORD lines byte for byte as the CDK writes them, grouped into bounded chunks."""

from __future__ import annotations

from typing import Any

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_meta_capi.push.record_messages import record_message_chunks


def _cdk_line(stream: str, data: dict[str, Any], emitted_at: int) -> bytes:
    message = AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data=data, emitted_at=emitted_at)
    )
    return AirbyteEntrypoint.airbyte_message_to_string(message).encode()


def test_each_line_is_what_the_cdk_writes_for_the_record() -> None:
    datas = [{"a": 1, "b": 'é\u2028"x"'}, {"nested": {"n": None}, "list": [1.5, True]}]
    (chunk,) = record_message_chunks("dead_letters", [orjson.dumps(d) for d in datas], emitted_at_ms=1_764_000_000_123)
    assert chunk.count == 2
    assert chunk.lines.split(b"\n") == [_cdk_line("dead_letters", d, 1_764_000_000_123) for d in datas]


def test_chunks_are_bounded_in_bytes_and_keep_every_record_in_order() -> None:
    datas = [orjson.dumps({"i": i, "pad": "x" * 100}) for i in range(1000)]
    chunks = record_message_chunks("delivered_events", datas, emitted_at_ms=1, chunk_bytes=10_000)
    assert len(chunks) > 10 and sum(c.count for c in chunks) == 1000
    assert all(len(c.lines) < 10_000 + 200 for c in chunks)
    lines = [line for c in chunks for line in c.lines.split(b"\n")]
    assert [orjson.loads(line)["record"]["data"]["i"] for line in lines] == list(range(1000))


def test_no_records_no_chunks() -> None:
    assert record_message_chunks("delivered_events", []) == []


def test_emitted_at_defaults_to_now_in_milliseconds() -> None:
    import time

    before = int(time.time() * 1000)
    (chunk,) = record_message_chunks("delivered_events", [b"{}"])
    assert before <= orjson.loads(chunk.lines)["record"]["emitted_at"] <= int(time.time() * 1000)
