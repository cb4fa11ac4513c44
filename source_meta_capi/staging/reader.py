"""The reader side of the staging contract: which objects a sync reads, in arrival order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Optional

from source_meta_capi.staging.keys import ObjectKey, ObjectKind, parse_object_key, pixel_prefix
from source_meta_capi.staging.records import DecodedLine, decode_object
from source_meta_capi.staging.store import ObjectStore


@dataclass(frozen=True)
class HourPrefix:
    """One `date=…/hour=…/` folder of a pixel: the unit a sync reads and checkpoints."""

    kind: ObjectKind
    pixel_id: str
    day: str
    hour: str

    @property
    def prefix(self) -> str:
        return f"{pixel_prefix(self.kind, self.pixel_id)}date={self.day}/hour={self.hour}/"

    @property
    def sort_key(self) -> str:
        return f"{self.day}T{self.hour}"


class StagingReader:
    """Lists and decodes staged objects. Foreign keys under our prefixes are never read."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @property
    def store(self) -> ObjectStore:
        return self._store

    def hours(self, kind: ObjectKind, pixel_id: str, after_key: Optional[str] = None) -> Iterator[HourPrefix]:
        """The hour folders that can hold keys greater than `after_key`, oldest first.

        Listing folders with a delimiter and StartAfter keeps an incremental sync from touching
        the history its state says is done.
        """
        base = pixel_prefix(kind, pixel_id)
        day_floor = hour_floor = None
        if after_key and after_key.startswith(base):
            rest = after_key[len(base) :].split("/")
            if len(rest) >= 2 and rest[0].startswith("date=") and rest[1].startswith("hour="):
                day_floor, hour_floor = rest[0][5:], rest[1][5:]
        start_days = f"{base}date={day_floor}" if day_floor else None
        for day_prefix in self._store.list_children(base, start_after=start_days):
            day = day_prefix[len(base) :].rstrip("/")
            if not day.startswith("date="):
                continue
            day = day[5:]
            start_hours = f"{day_prefix}hour={hour_floor}" if day == day_floor and hour_floor else None
            for hour_prefix in self._store.list_children(day_prefix, start_after=start_hours):
                hour = hour_prefix[len(day_prefix) :].rstrip("/")
                if hour.startswith("hour=") and len(hour) == 7:
                    yield HourPrefix(kind=kind, pixel_id=pixel_id, day=day, hour=hour[5:])

    def objects(
        self, hour: HourPrefix, after_key: Optional[str] = None, arrived_before: Optional[datetime] = None
    ) -> Iterator[ObjectKey]:
        """Objects of one hour folder with key > after_key and arrival < arrived_before."""
        start_after = after_key if after_key and after_key.startswith(hour.prefix) else None
        if after_key and not start_after and after_key > hour.prefix:
            return
        for key in self._store.list_keys(hour.prefix, start_after=start_after):
            parsed = parse_object_key(key)
            if parsed is None or parsed.kind is not hour.kind or parsed.pixel_id != hour.pixel_id:
                continue
            if arrived_before is not None and parsed.arrival >= arrived_before:
                # Keys sort by arrival: nothing later in this folder is old enough either.
                return
            yield parsed

    def hour_batches(
        self,
        kind: ObjectKind,
        pixel_id: str,
        after_key: Optional[str] = None,
        arrived_before: Optional[datetime] = None,
    ) -> Iterator[tuple[HourPrefix, list[ObjectKey]]]:
        """The objects of a pixel with key > after_key and arrival < arrived_before, grouped by
        hour folder, oldest first, from one flat listing.

        One LIST request per 1,000 objects instead of one per day and per hour folder (`hours`
        + `objects`): on S3 a LIST costs what a PUT costs and tens of ms, and a 5-day backlog of
        one pixel is 120 hour folders. StartAfter keeps an incremental sync off the history.
        """
        base = pixel_prefix(kind, pixel_id)
        start_after = after_key if after_key and after_key.startswith(base) else None
        last_hour = f"{arrived_before:%Y-%m-%dT%H}" if arrived_before is not None else None
        current: Optional[HourPrefix] = None
        batch: list[ObjectKey] = []
        for key in self._store.list_keys(base, start_after=start_after):
            parsed = parse_object_key(key)
            if parsed is None or parsed.kind is not kind or parsed.pixel_id != pixel_id:
                continue
            day, hour = key[len(base) :].split("/", 2)[:2]
            if current is None or current.day != day[5:] or current.hour != hour[5:]:
                if batch:
                    assert current is not None
                    yield current, batch
                current, batch = HourPrefix(kind=kind, pixel_id=pixel_id, day=day[5:], hour=hour[5:]), []
                if last_hour is not None and current.sort_key > last_hour:
                    # Folders sort by arrival hour: nothing later is old enough either.
                    return
            if arrived_before is not None and parsed.arrival >= arrived_before:
                continue
            batch.append(parsed)
        if batch:
            assert current is not None
            yield current, batch

    def get(self, key: str) -> bytes:
        """The stored bytes of one object, as written (gzip)."""
        return self._store.get(key)

    def read(self, key: str) -> Iterator[DecodedLine]:
        """Decode one object (raises CorruptObjectError for an unreadable object)."""
        return decode_object(key, self._store.get(key))
