"""RECORD messages built from record data that is already JSON, in chunks of many records.

The decoder processes (`decoder_pool.py`) build the protocol lines themselves, so the sync's
main process hands the CDK one chunk of lines per ~256 KiB instead of one record at a time: the
CDK's per-message path (partition queue, message objects, counters, writer: ~20 us) then runs
once per chunk rather than once per record, which is what capped a push sync at the speed of a
bare CDK stream (docs/benchmarks.md). `raw_output.py` writes a chunk as it is and counts its
records where the CDK counts records.

Each line is byte for byte what the CDK's writer gives a record message without namespace or
meta: key order type, record; stream, data, emitted_at (unit tests compare with the CDK's own).

Pure (no airbyte_cdk): the decoder processes are spawned interpreters that must not load it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

import orjson

# A chunk is decoded, buffered and written as one string by the main process: small enough to
# keep a sync's memory flat whatever the object size, large enough to amortise the CDK's cost.
CHUNK_BYTES = 256 << 10


@dataclass(frozen=True)
class RecordChunk:
    """`count` RECORD messages of one stream, one per line (no trailing newline)."""

    lines: bytes
    count: int


def record_message_chunks(
    stream: str, records: Iterable[bytes], emitted_at_ms: int | None = None, chunk_bytes: int = CHUNK_BYTES
) -> list[RecordChunk]:
    """Wrap each record's data JSON in a RECORD message line and group the lines into chunks."""
    emitted_at = int(time.time() * 1000) if emitted_at_ms is None else emitted_at_ms
    prefix = b'{"type":"RECORD","record":{"stream":' + orjson.dumps(stream) + b',"data":'
    suffix = b',"emitted_at":' + str(emitted_at).encode() + b"}}"
    chunks: list[RecordChunk] = []
    lines: list[bytes] = []
    size = 0
    for data in records:
        line = prefix + data + suffix
        lines.append(line)
        size += len(line) + 1
        if size >= chunk_bytes:
            chunks.append(RecordChunk(b"\n".join(lines), len(lines)))
            lines, size = [], 0
    if lines:
        chunks.append(RecordChunk(b"\n".join(lines), len(lines)))
    return chunks
