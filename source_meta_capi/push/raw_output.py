"""Writing records that are already JSON: the console entry point's fast path.

When the record decoder processes (`decoder_pool.py`) check a staged object, they send
each accepted record back as the exact JSON bytes of its data. Parsing them back into dicts on
the main process only for the CDK to serialise them again would put the per-record work we
moved off the main process's GIL right back on it. So such a record travels through the CDK as
a one-key dict `{RAW_JSON_FIELD: bytes}` and the message writer installed here splices the bytes
into the RECORD line.

Only the console entry point (`run.py`) installs the writer, and the push streams produce raw
records only while it is installed (`enabled()`), so in-process callers (the CDK's test
entrypoint, PyAirbyte's in-process mode, our tests) always get ordinary dicts. A raw record that
reached the CDK's own writer would fail loudly (bytes are not JSON), never be written wrongly.

Both the patched method and the RECORD line layout are CDK internals, which is why pyproject.toml
pins airbyte-cdk to one minor version; the unit tests compare our bytes with the CDK's own.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, Type

RAW_JSON_FIELD = "__meta_capi_record_json__"

_install_lock = threading.Lock()
_cdk_writer: Optional[Callable[[AirbyteMessage], str]] = None


def enabled() -> bool:
    """True once the console entry point's writer is installed in this process."""
    return _cdk_writer is not None


def raw_record(data: bytes) -> dict[str, Any]:
    """The record data that stands for a record already encoded as JSON."""
    return {RAW_JSON_FIELD: data}


def message_to_string(message: AirbyteMessage) -> str:
    """The CDK's message writer, with raw records spliced in as they are."""
    record = message.record
    if message.type == Type.RECORD and record is not None:
        raw = record.data.get(RAW_JSON_FIELD)
        if raw is not None and len(record.data) == 1:
            if record.namespace is None and record.meta is None and record.file_reference is None:
                # The same bytes the CDK writes: orjson, key order type/record, stream/data/emitted_at.
                return orjson.dumps(
                    {
                        "type": "RECORD",
                        "record": {
                            "stream": record.stream,
                            "data": orjson.Fragment(raw),
                            "emitted_at": record.emitted_at,
                        },
                    }
                ).decode()
            record.data = orjson.loads(raw)
    assert _cdk_writer is not None
    return _cdk_writer(message)


def install() -> None:
    """Route the CDK entrypoint's message writer through `message_to_string` (idempotent).

    `AirbyteEntrypoint.run` looks the writer up on the class for every message, so this is the
    one place a source can change how records are written without re-implementing `run`.
    """
    global _cdk_writer
    with _install_lock:
        if _cdk_writer is not None:
            return
        _cdk_writer = AirbyteEntrypoint.airbyte_message_to_string
        AirbyteEntrypoint.airbyte_message_to_string = staticmethod(message_to_string)  # type: ignore[method-assign,assignment]
