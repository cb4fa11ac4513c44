"""Counts of what a sync read, dropped and flagged, logged once at the end as one JSON line."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from source_meta_capi.staging.records import iso_utc


@dataclass(frozen=True)
class HeldObjects:
    """Objects of one stream and pixel that arrived within the settle window: this sync leaves
    them for a later one, when no writer can still commit an object stamped before them."""

    stream: str
    pixel_id: str
    objects: int
    first_arrival: datetime
    last_arrival: datetime
    settle: timedelta

    @property
    def first_readable_at(self) -> datetime:
        return self.first_arrival + self.settle

    @property
    def all_readable_at(self) -> datetime:
        return self.last_arrival + self.settle

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "pixel_id": self.pixel_id,
            "objects": self.objects,
            "settle_seconds": int(self.settle.total_seconds()),
            "first_readable_at": iso_utc(self.first_readable_at),
            "all_readable_at": iso_utc(self.all_readable_at),
        }


class SyncReport:
    """Thread-safe counters shared by every push stream of one sync."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._drift: Counter[tuple[str, str, str]] = Counter()
        self.corrupt: list[str] = []
        self._held: list[HeldObjects] = []

    def add(self, stream: str, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[(stream, counter)] += amount

    def drift(self, pixel_id: str, event_name: str, field: str) -> None:
        with self._lock:
            self._drift[(pixel_id, event_name, field)] += 1

    def corrupt_data(self, stream: str, where: str) -> None:
        with self._lock:
            self._counts[(stream, "corrupt")] += 1
            # Keep the first few locations for the summary; the count says how many there were.
            if len(self.corrupt) < 20:
                self.corrupt.append(where)

    def held_for_settle_window(self, held: HeldObjects) -> None:
        """Record objects too recent to read in this sync (counted per stream as `objects_held`)."""
        with self._lock:
            self._counts[(held.stream, "objects_held")] += held.objects
            self._held.append(held)

    def held(self) -> list[HeldObjects]:
        with self._lock:
            return sorted(self._held, key=lambda h: (h.stream, h.pixel_id))

    def settle_window_summary(self) -> Optional[dict[str, Any]]:
        """How many objects wait for a later sync and when they become readable; None if none."""
        return _settle_summary(self.held())

    def count(self, stream: str, counter: str) -> int:
        with self._lock:
            return self._counts[(stream, counter)]

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            streams: dict[str, dict[str, int]] = {}
            for (stream, counter), value in sorted(self._counts.items()):
                streams.setdefault(stream, {})[counter] = value
            return {
                "streams": streams,
                "schema_drift": [
                    {"pixel_id": p, "event_name": e, "missing": f, "count": c}
                    for (p, e, f), c in sorted(self._drift.items())
                ],
                "corrupt_locations": list(self.corrupt),
                "settle_window": _settle_summary(sorted(self._held, key=lambda h: (h.stream, h.pixel_id))),
            }


def _settle_summary(held: list[HeldObjects]) -> Optional[dict[str, Any]]:
    if not held:
        return None
    return {
        "objects_held": sum(h.objects for h in held),
        "first_readable_at": iso_utc(min(h.first_readable_at for h in held)),
        "all_readable_at": iso_utc(max(h.all_readable_at for h in held)),
        "held": [h.as_dict() for h in held],
    }
