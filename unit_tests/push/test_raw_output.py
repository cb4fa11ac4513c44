"""raw_output: a record that is already JSON is written exactly as the CDK would write it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteLogMessage, AirbyteMessage, AirbyteRecordMessage, Level, Type

from source_meta_capi.push import raw_output
from source_meta_capi.push.decoder_pool import record_json

DATA: dict[str, Any] = {
    "pixel_id": "1",
    "event_id": 'caf\u00e9 "quoted"\n',
    "event_time": 1_764_000_000,
    "value": 12.5,
    "user_data": {"em": ["a" * 64], "empty": []},
    "custom_data": None,
}


@pytest.fixture
def cdk_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer as `install()` would set it, without patching the CDK class for other tests.
    monkeypatch.setattr(raw_output, "_cdk_writer", AirbyteEntrypoint.airbyte_message_to_string)


def _record(data: Any, **extra: Any) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream="delivered_events", data=data, emitted_at=42, **extra)
    )


def test_a_raw_record_is_written_byte_for_byte_as_the_cdk_writes_the_parsed_record(cdk_writer: None) -> None:
    # record_json is what the decoder processes send: the CDK leaves out top-level nulls.
    raw = raw_output.raw_record(record_json(DATA))
    assert raw_output.message_to_string(_record(raw)) == AirbyteEntrypoint.airbyte_message_to_string(_record(DATA))


def test_other_messages_and_ordinary_records_go_through_the_cdk_writer(cdk_writer: None) -> None:
    log = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="hello"))
    assert raw_output.message_to_string(log) == AirbyteEntrypoint.airbyte_message_to_string(log)
    assert raw_output.message_to_string(_record(DATA)) == AirbyteEntrypoint.airbyte_message_to_string(_record(DATA))


def test_a_raw_record_with_a_namespace_is_parsed_and_written_by_the_cdk(cdk_writer: None) -> None:
    raw = raw_output.raw_record(orjson.dumps(DATA))
    written = orjson.loads(raw_output.message_to_string(_record(raw, namespace="ns")))
    assert (
        written["record"]["data"] == {k: v for k, v in DATA.items() if v is not None}
        and written["record"]["namespace"] == "ns"
    )


def test_without_the_writer_a_raw_record_fails_loudly_instead_of_being_written_wrong() -> None:
    with pytest.raises(Exception, match="serialized"):
        AirbyteEntrypoint.airbyte_message_to_string(_record(raw_output.raw_record(b"{}")))
