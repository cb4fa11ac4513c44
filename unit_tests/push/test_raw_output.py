"""raw_output: a chunk of finished lines is written and counted as the records it holds."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import orjson
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    Level,
    StreamDescriptor,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor

from source_meta_capi.push import raw_output
from source_meta_capi.push.decoder_pool import record_json
from source_meta_capi.push.record_messages import record_message_chunks

DATA: dict[str, Any] = {
    "pixel_id": "1",
    "event_id": 'caf\u00e9 "quoted"\n\u2028',
    "event_time": 1_764_000_000,
    "value": 12.5,
    "user_data": {"em": ["a" * 64], "empty": []},
    "custom_data": None,
}


@pytest.fixture
def cdk_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CDK's methods as `install()` keeps them, without patching the CDK classes for other tests.
    monkeypatch.setattr(raw_output, "_cdk_writer", AirbyteEntrypoint.airbyte_message_to_string)
    monkeypatch.setattr(raw_output, "_cdk_count_records", AirbyteEntrypoint.handle_record_counts)


def _record(data: Any, **extra: Any) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream="delivered_events", data=data, emitted_at=42, **extra)
    )


def _state() -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name="delivered_events"), stream_state=AirbyteStateBlob(a=1)
            ),
        ),
    )


def test_a_chunk_is_written_byte_for_byte_as_the_cdk_writes_its_records(cdk_methods: None) -> None:
    datas = [DATA, {**DATA, "event_id": "second"}, {"pixel_id": "2"}]
    (chunk,) = record_message_chunks("delivered_events", [record_json(d) for d in datas], emitted_at_ms=42)
    written = raw_output.message_to_string(
        _record(raw_output.raw_records(chunk.lines, chunk.count, raw_output.OutputBudget()))
    )
    assert written.split("\n") == [AirbyteEntrypoint.airbyte_message_to_string(_record(d)) for d in datas]


def test_other_messages_and_ordinary_records_go_through_the_cdk_writer(cdk_methods: None) -> None:
    log = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="hello"))
    assert raw_output.message_to_string(log) == AirbyteEntrypoint.airbyte_message_to_string(log)
    assert raw_output.message_to_string(_record(DATA)) == AirbyteEntrypoint.airbyte_message_to_string(_record(DATA))


def test_a_chunk_counts_as_its_records_in_the_state_messages_record_count(cdk_methods: None) -> None:
    counts: defaultdict[HashableStreamDescriptor, float] = defaultdict(float)
    budget = raw_output.OutputBudget()
    for message in (
        _record(raw_output.raw_records(b"x", 500, budget)),
        _record(DATA),
        _record(raw_output.raw_records(b"y", 1, budget)),
    ):
        raw_output.count_records(message, counts)
    state = raw_output.count_records(_state(), counts)
    assert state.state is not None and state.state.sourceStats is not None
    assert state.state.sourceStats.recordCount == 502.0


def test_a_chunk_counts_as_its_records_in_the_streams_read_total(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    class Processor:
        _record_counter = {"delivered_events": 0}

    def cdk_on_record(processor: Any, record: Any) -> Any:
        processor._record_counter[record.stream_name] += 1
        seen.append(record)
        yield "message"

    from airbyte_cdk.sources.types import Record

    monkeypatch.setattr(raw_output, "_cdk_on_record", cdk_on_record)
    processor = Processor()
    chunk = Record(data=raw_output.raw_records(b"x", 300, raw_output.OutputBudget()), stream_name="delivered_events")
    assert list(raw_output.on_record(processor, chunk)) == ["message"]  # type: ignore[arg-type]
    ordinary = Record(data=DATA, stream_name="delivered_events")
    assert list(raw_output.on_record(processor, ordinary)) == ["message"]  # type: ignore[arg-type]
    assert processor._record_counter["delivered_events"] == 301 and len(seen) == 2


def test_without_the_writer_a_chunk_fails_loudly_instead_of_being_written_wrong() -> None:
    chunk = raw_output.raw_records(b'{"type":"RECORD"}', 1, raw_output.OutputBudget())
    with pytest.raises(Exception, match="serialized"):
        AirbyteEntrypoint.airbyte_message_to_string(_record(chunk))


def test_the_output_budget_holds_back_a_chunk_until_earlier_ones_are_written(cdk_methods: None) -> None:
    budget = raw_output.OutputBudget(limit=100)
    first = raw_output.raw_records(b"a" * 80, 1, budget)
    handed: list[dict[str, Any]] = []
    waiting = threading.Thread(target=lambda: handed.append(raw_output.raw_records(b"b" * 80, 1, budget)))
    waiting.start()
    waiting.join(timeout=0.3)
    assert waiting.is_alive() and not handed  # 160 bytes would exceed the budget
    raw_output.message_to_string(_record(first))  # written: its bytes are released
    waiting.join(timeout=5)
    assert handed and not waiting.is_alive()


def test_a_chunk_larger_than_the_budget_still_goes_when_nothing_is_pending() -> None:
    budget = raw_output.OutputBudget(limit=10)
    assert raw_output.chunk_size(raw_output.raw_records(b"z" * 1000, 7, budget)) == 7


def test_closing_the_budget_wakes_a_waiting_thread_with_an_error() -> None:
    budget = raw_output.OutputBudget(limit=10)
    raw_output.raw_records(b"a" * 10, 1, budget)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            raw_output.raw_records(b"b", 1, budget)
        except raw_output.OutputClosedError as error:
            errors.append(error)

    waiting = threading.Thread(target=wait)
    waiting.start()
    budget.close()
    waiting.join(timeout=5)
    assert len(errors) == 1


def test_ordinary_records_count_as_one() -> None:
    assert raw_output.chunk_size(DATA) == 1
    assert raw_output.chunk_size({raw_output.RAW_CHUNK_FIELD: "not a chunk"}) == 1
    assert orjson.loads(record_json(DATA))["event_id"] == DATA["event_id"]
