"""Counts of what a sync read, dropped and flagged, logged once at the end as one JSON line."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SyncReport:
    """Thread-safe counters shared by every push stream of one sync."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._drift: Counter[tuple[str, str, str]] = Counter()
        self.corrupt: list[str] = []

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
            }
