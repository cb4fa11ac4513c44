"""Object key layout: `<kind>/pixel_id=<id>/date=<YYYY-MM-DD>/hour=<HH>/<arrival>-<writer>-<digest>.jsonl.gz`.

`<arrival>` is a fixed-width UTC stamp (`20261126T074952123456Z`), so a lexicographic listing of
a pixel's prefix is arrival order. Every segment that comes from input is validated here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Optional

from source_meta_capi.capi.graph_api import PIXEL_ID_PATTERN, PIXEL_ID_RULE, is_pixel_id


class ObjectKind(StrEnum):
    """The three areas of a staging bucket, one per push stream."""

    EVENTS = "events"
    STATUSES = "statuses"
    DEAD_LETTERS = "dead_letters"


class InvalidKeySegmentError(ValueError):
    """A path segment taken from input is not safe to put in a key."""


_WRITER_ID = re.compile(r"[a-z0-9]{1,32}")
_ARRIVAL = re.compile(r"[0-9]{8}T[0-9]{12}Z")
_OBJECT_NAME = re.compile(
    r"(?P<arrival>[0-9]{8}T[0-9]{12}Z)-(?P<writer>[a-z0-9]{1,32})-(?P<digest>[0-9a-f]{16})\.jsonl\.gz"
)
_KEY = re.compile(
    rf"(?P<kind>events|statuses|dead_letters)/pixel_id=(?P<pixel_id>{PIXEL_ID_PATTERN.pattern})/"
    r"date=(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})/hour=(?P<hour>[0-9]{2})/(?P<name>[^/]+)"
)
ARRIVAL_FORMAT = "%Y%m%dT%H%M%S%fZ"
# Version-1 writers kept idempotency claims here; nothing reads or writes it any more, but a
# bucket staged by them still has it (a lifecycle rule expires it).
IDEMPOTENCY_AREA = "idempotency"
OBJECT_SUFFIX = ".jsonl.gz"


def validate_pixel_id(value: object) -> str:
    """Return the pixel id if it is ASCII digits (PIXEL_ID_RULE); anything else could escape a key."""
    if not is_pixel_id(value):
        shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
        raise InvalidKeySegmentError(f"pixel id {shown!r} is not {PIXEL_ID_RULE}")
    return value


def validate_writer_id(value: str) -> str:
    """Writer ids are lowercase alphanumerics, so they never contain '-' or '/'."""
    if not _WRITER_ID.fullmatch(value):
        raise InvalidKeySegmentError(f"writer id {value!r} must be 1-32 characters of [a-z0-9]")
    return value


def arrival_stamp(moment: datetime) -> str:
    """The fixed-width, sortable UTC stamp of an arrival time."""
    if moment.tzinfo is None:
        raise ValueError("arrival times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime(ARRIVAL_FORMAT)


def parse_arrival_stamp(stamp: str) -> datetime:
    """Inverse of arrival_stamp."""
    if not _ARRIVAL.fullmatch(stamp):
        raise ValueError(f"{stamp!r} is not an arrival stamp")
    return datetime.strptime(stamp, ARRIVAL_FORMAT).replace(tzinfo=timezone.utc)


def pixel_prefix(kind: ObjectKind, pixel_id: str) -> str:
    """The prefix holding every object of one kind for one pixel, in arrival order."""
    return f"{kind.value}/pixel_id={validate_pixel_id(pixel_id)}/"


def object_key(kind: ObjectKind, pixel_id: str, arrival: datetime, writer_id: str, digest: str) -> str:
    """The key of a staged object. `digest` is derived from the content (first 16 hex of SHA-256)."""
    if not re.fullmatch(r"[0-9a-f]{16}", digest):
        raise InvalidKeySegmentError("digest must be 16 lowercase hex characters")
    utc = arrival.astimezone(timezone.utc)
    return (
        f"{pixel_prefix(kind, pixel_id)}date={utc:%Y-%m-%d}/hour={utc:%H}/"
        f"{arrival_stamp(utc)}-{validate_writer_id(writer_id)}-{digest}{OBJECT_SUFFIX}"
    )


@dataclass(frozen=True)
class ObjectKey:
    """A parsed staged-object key."""

    key: str
    kind: ObjectKind
    pixel_id: str
    arrival: datetime
    arrival_stamp: str
    writer_id: str
    digest: str


def parse_object_key(key: str) -> Optional[ObjectKey]:
    """Parse a key of our layout; None for anything else (foreign files are never read)."""
    match = _KEY.fullmatch(key)
    if not match:
        return None
    name = _OBJECT_NAME.fullmatch(match["name"])
    if not name:
        return None
    arrival = parse_arrival_stamp(name["arrival"])
    if f"{arrival:%Y-%m-%d}" != match["date"] or f"{arrival:%H}" != match["hour"]:
        return None
    return ObjectKey(
        key=key,
        kind=ObjectKind(match["kind"]),
        pixel_id=match["pixel_id"],
        arrival=arrival,
        arrival_stamp=name["arrival"],
        writer_id=name["writer"],
        digest=name["digest"],
    )


def arrival_floor_key(kind: ObjectKind, pixel_id: str, moment: datetime) -> str:
    """A key that sorts just before every object arriving at or after `moment` (for StartAfter)."""
    utc = moment.astimezone(timezone.utc)
    return f"{pixel_prefix(kind, pixel_id)}date={utc:%Y-%m-%d}/hour={utc:%H}/{arrival_stamp(utc)}"
