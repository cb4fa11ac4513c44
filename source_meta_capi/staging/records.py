"""Staged records: the envelope every line carries, and the gzip JSON Lines object encoding.

Version 2 (docs/staging-format.md): a record is encoded to its JSON line once, when its request
is processed (`encode_line`), and the writer splices its own two fields (the cursor and
`schema_version`) into the pre-encoded lines of a whole object (`encode_lines`). Lines read back
exactly like version 1's; what changed is the contract around them (a retried request may stage
an identity again; batch ids are per accepted request).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final, Iterator, Mapping, NamedTuple, Sequence

import orjson

from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.store import CorruptObjectError

SCHEMA_VERSION = 2
# Every version a reader accepts: they decode the same way (docs/staging-format.md).
READABLE_SCHEMA_VERSIONS = frozenset({1, 2})
# The fields the writer owns: a record's own value would become a duplicate key once spliced.
WRITER_FIELDS = ("received_at", "recorded_at", "schema_version")

# The field each kind's records carry the object's arrival time in: it is the streams' cursor.
CURSOR_FIELD = {
    ObjectKind.EVENTS: "received_at",
    ObjectKind.STATUSES: "recorded_at",
    ObjectKind.DEAD_LETTERS: "recorded_at",
}

# The receiver pays compression on the request path: on staged event JSON level 1 costs ~6 µs
# per event against ~14 µs for level 5 (benchmarks/pipeline_micro.py), for objects ~20% larger
# (216 against 180 bytes per event). Readers decode any level, and gunzip is no slower.
_GZIP_LEVEL = 1


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds and a Z suffix: fixed width, sortable, parsed by warehouses."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (Z or offset) to an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class EncodedObject:
    """An object ready to stage: compressed bytes and the content digest its name carries."""

    data: bytes
    digest: str


def encode_records(records: Sequence[Mapping[str, Any]]) -> EncodedObject:
    """gzip JSON Lines. mtime=0 keeps the bytes a pure function of the records."""
    body = b"".join(orjson.dumps(record) + b"\n" for record in records)
    digest = hashlib.sha256(body).hexdigest()[:16]
    return EncodedObject(data=gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0), digest=digest)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One record as a JSON object without the writer's fields (no newline).

    Raises TypeError (orjson.JSONEncodeError) for what JSON cannot carry, such as nesting past
    orjson's 254 levels: each record is encoded on its own, when its request is processed, so
    such a record is refused alone instead of failing the object it would share with others.
    """
    if any(name in record for name in WRITER_FIELDS):
        record = {key: value for key, value in record.items() if key not in WRITER_FIELDS}
    return orjson.dumps(record)


def writer_suffix(cursor_field: str, arrival_iso: str) -> bytes:
    """What the writer splices before each line's closing brace: `,"<cursor>":…,"schema_version":2}`."""
    return b"," + orjson.dumps({cursor_field: arrival_iso, "schema_version": SCHEMA_VERSION})[1:]


def encode_lines(lines: Sequence[bytes], suffix: bytes) -> EncodedObject:
    """gzip JSON Lines from pre-encoded lines (`encode_line`), each closed with `suffix`.

    `{…}` minus its brace plus `,"received_at":…}` is the record with the writer's fields added
    last: the bytes version 1 wrote, for the cost of a concatenation per line (no re-encoding).
    mtime=0 keeps the bytes a pure function of the lines.
    """
    body = b"".join([(line[:-1] + suffix if len(line) > 2 else b"{" + suffix[1:]) + b"\n" for line in lines])
    digest = hashlib.sha256(body).hexdigest()[:16]
    return EncodedObject(data=gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0), digest=digest)


class DecodedLine(NamedTuple):
    """One line of a staged object: its 1-based number and the parsed record, or the error.

    A NamedTuple rather than a frozen dataclass: one is built per staged record, and a frozen
    dataclass costs several times more to construct.
    """

    line: int
    record: dict[str, Any] | None
    error: CorruptObjectError | None


def decode_object(key: str, data: bytes) -> Iterator[DecodedLine]:
    """Decompress and parse an object line by line.

    A bad gzip stream raises CorruptObjectError for the whole object (nothing from it can be
    trusted); a bad line is reported as a DecodedLine with an error so the caller can count it
    and decide (fail or warn) without losing the good lines around it.
    """
    return decode_lines(key, object_lines(key, data))


def object_lines(key: str, data: bytes) -> list[bytes]:
    """Decompress an object into its lines (CorruptObjectError for a bad gzip stream, or one
    that decompresses past MAX_OBJECT_BYTES or holds a line longer than MAX_LINE_BYTES)."""
    body = _gunzip(key, data)
    lines = body.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if len(body) > MAX_LINE_BYTES and max(map(len, lines), default=0) > MAX_LINE_BYTES:
        raise CorruptObjectError(key, f"holds a line longer than {MAX_LINE_BYTES} bytes")
    return lines


# Read-side limits: a 1 MB gzip bomb decompressed to 2.1 GB. Decompression
# is streamed and stops at the limit; what the receiver writes stays far below both (a staged
# line is one event of a request body, an object one group commit).
MAX_OBJECT_BYTES: Final[int] = 256 * 1024 * 1024
MAX_LINE_BYTES: Final[int] = 16 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024


def _gunzip(key: str, data: bytes) -> bytes:
    """gzip.decompress (every member), stopping as soon as the output passes MAX_OBJECT_BYTES.

    The error never quotes the data (gzip's own message shows the first bytes of a non-gzip file)."""
    if not data:
        return b""  # as gzip.decompress: an empty object holds no lines
    parts: list[bytes] = []
    total = 0
    pending = data
    try:
        while True:
            decompressor = zlib.decompressobj(wbits=31)
            while not decompressor.eof:
                chunk = decompressor.decompress(pending, _CHUNK)
                pending = decompressor.unconsumed_tail
                total += len(chunk)
                if total > MAX_OBJECT_BYTES:
                    raise CorruptObjectError(key, f"decompresses to more than {MAX_OBJECT_BYTES} bytes")
                if chunk:
                    parts.append(chunk)
                elif not pending and not decompressor.eof:
                    raise CorruptObjectError(key, "not a valid gzip stream (truncated)")
            pending = decompressor.unused_data
            if not pending:
                break
    except zlib.error as error:
        raise CorruptObjectError(key, "not a valid gzip stream") from error
    return b"".join(parts)


def decode_lines(key: str, lines: list[bytes]) -> Iterator[DecodedLine]:
    """Parse an object's lines; a bad line is a DecodedLine with an error, numbered from 1."""
    # Fast path for a clean object: parse every line in one C-level pass. Any blank line, bad
    # JSON or non-object line makes it bail out to the exact line-by-line pass below, which
    # reports each problem with its line number (a blank line fails orjson too, so when this
    # succeeds the line numbers are simply 1..n).
    try:
        parsed = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        parsed = None
    if parsed is not None and all(type(record) is dict for record in parsed):
        for number, record in enumerate(parsed, start=1):
            yield DecodedLine(number, record, None)
        return
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            yield DecodedLine(number, None, CorruptObjectError(key, f"invalid JSON ({error.msg})", number))
            continue
        if not isinstance(record, dict):
            yield DecodedLine(number, None, CorruptObjectError(key, "line is not a JSON object", number))
            continue
        yield DecodedLine(number, record, None)
