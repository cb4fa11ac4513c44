"""Writing chunks of finished RECORD message lines: the console entry point's fast path.

The record decoder processes (`decoder_pool.py`) check a staged object and send back its
accepted records as chunks of RECORD message lines (`record_messages.py`). Such a chunk travels
through the CDK as one record whose data is `{RAW_CHUNK_FIELD: RawChunk}`; the pieces installed
here make the CDK treat it as the records it holds:

- the message writer returns the lines as they are (the launcher prints each message followed
  by a newline, so the chunk comes out as `n` protocol lines);
- the entry point's record counter, which fills `sourceStats.recordCount` of every STATE
  message (the platform checks it against the records it received), adds `n`;
- the concurrent read processor's per-stream counter, which the "Read N records from S stream"
  log line reports, adds `n`.

So the CDK's per-message cost is paid once per chunk instead of once per record, and the bytes
a destination reads are the ones the CDK would have written.

The CDK bounds its record queue in items (10,000), which for chunks would be gigabytes when a
destination reads slowly; an `OutputBudget` bounds the bytes of chunks handed to the CDK and not
yet written instead.

Only the console entry point (`run.py`) installs these, and the push streams produce chunks only
while they are installed (`enabled()`), so in-process callers (the CDK's test entrypoint,
PyAirbyte's in-process mode, our tests) always get ordinary records. A chunk that reached the
CDK's own writer would fail loudly (bytes are not JSON), never be written wrongly.

The patched methods are CDK internals, which is why pyproject.toml pins airbyte-cdk to one minor
version; the unit tests compare our bytes and counts with the CDK's own.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, Type
from airbyte_cdk.sources.concurrent_source.concurrent_read_processor import ConcurrentReadProcessor
from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor
from airbyte_cdk.sources.types import Record

RAW_CHUNK_FIELD = "__meta_capi_record_chunk__"
# Bytes of chunks handed to the CDK and not yet written, per sync: a few chunks per partition
# thread keep the decoder processes busy.
OUTPUT_BUDGET_BYTES = 4 << 20

_install_lock = threading.Lock()
_cdk_writer: Optional[Callable[[AirbyteMessage], str]] = None
_cdk_count_records: Optional[Callable[..., AirbyteMessage]] = None
_cdk_on_record: Optional[Callable[[ConcurrentReadProcessor, Record], Iterable[AirbyteMessage]]] = None


class OutputClosedError(RuntimeError):
    """The sync ended (or failed) while a chunk waited for room in the output budget."""


class OutputBudget:
    """Bounds the bytes of record chunks between the partition threads and stdout."""

    def __init__(self, limit: int = OUTPUT_BUDGET_BYTES) -> None:
        self._limit = limit
        self._used = 0
        self._closed = False
        self._changed = threading.Condition()

    def reserve(self, size: int) -> None:
        """Wait until `size` more bytes fit (a chunk always fits when nothing is pending)."""
        with self._changed:
            while self._used and self._used + size > self._limit and not self._closed:
                self._changed.wait()
            if self._closed:
                raise OutputClosedError("the sync's output is closed")
            self._used += size

    def release(self, size: int) -> None:
        with self._changed:
            self._used -= size
            self._changed.notify_all()

    def close(self) -> None:
        """Wake every waiting thread with OutputClosedError (the sync is over; idempotent)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


@dataclass(frozen=True)
class RawChunk:
    """`count` finished RECORD message lines, and the budget their bytes were reserved from."""

    lines: bytes
    count: int
    budget: OutputBudget


def enabled() -> bool:
    """True once the console entry point's writer is installed in this process."""
    return _cdk_writer is not None


def raw_records(lines: bytes, count: int, budget: OutputBudget) -> dict[str, Any]:
    """The record data that stands for `count` finished RECORD message lines; reserves their
    bytes in `budget` (released once written), waiting for room."""
    budget.reserve(len(lines))
    return {RAW_CHUNK_FIELD: RawChunk(lines, count, budget)}


def _chunk(data: Mapping[str, Any]) -> Optional[RawChunk]:
    if len(data) == 1:
        chunk = data.get(RAW_CHUNK_FIELD)
        if isinstance(chunk, RawChunk):
            return chunk
    return None


def chunk_size(data: Mapping[str, Any]) -> int:
    """How many records a record's data stands for: its chunk's count, or 1 for an ordinary record."""
    chunk = _chunk(data)
    return 1 if chunk is None else chunk.count


def message_to_string(message: AirbyteMessage) -> str:
    """The CDK's message writer, with chunks of finished lines written as they are."""
    record = message.record
    chunk = _chunk(record.data) if message.type == Type.RECORD and record is not None else None
    if chunk is not None:
        text = chunk.lines.decode()
        chunk.budget.release(len(chunk.lines))
        return text
    assert _cdk_writer is not None
    return _cdk_writer(message)


def count_records(
    message: AirbyteMessage, stream_message_count: defaultdict[HashableStreamDescriptor, float]
) -> AirbyteMessage:
    """The entry point's record counter, counting a chunk as its records."""
    assert _cdk_count_records is not None
    record = message.record
    if message.type == Type.RECORD and record is not None:
        extra = chunk_size(record.data) - 1
        if extra:
            stream_message_count[HashableStreamDescriptor(name=record.stream, namespace=record.namespace)] += extra
    return _cdk_count_records(message, stream_message_count)


def on_record(processor: ConcurrentReadProcessor, record: Record) -> Iterable[AirbyteMessage]:
    """The read processor's record handler, counting a chunk as its records in the stream's total."""
    assert _cdk_on_record is not None
    yield from _cdk_on_record(processor, record)
    extra = chunk_size(record.data) - 1
    if extra:
        processor._record_counter[record.stream_name] += extra


def install() -> None:
    """Route the CDK's writer and record counters through this module (idempotent).

    `AirbyteEntrypoint.run` and `ConcurrentSource` look these methods up on their classes for
    every message, so this is the one place a source can change how records are written and
    counted without re-implementing them.
    """
    global _cdk_writer, _cdk_count_records, _cdk_on_record
    with _install_lock:
        if _cdk_writer is not None:
            return
        _cdk_count_records = AirbyteEntrypoint.handle_record_counts
        _cdk_on_record = ConcurrentReadProcessor.on_record
        _cdk_writer = AirbyteEntrypoint.airbyte_message_to_string
        AirbyteEntrypoint.handle_record_counts = staticmethod(count_records)  # type: ignore[method-assign,assignment]
        ConcurrentReadProcessor.on_record = on_record  # type: ignore[method-assign,assignment]
        AirbyteEntrypoint.airbyte_message_to_string = staticmethod(message_to_string)  # type: ignore[method-assign,assignment]
