"""Forwarding leases: at most one redrive works on a batch at a time, across processes.

A lease is a write-once object `leases/pixel_id=<id>/<digest>/<seq>.json` created with a
conditional put, so two redrives racing for a batch cannot both win. A new lease is granted
only when the previous holder's work was over (claimed_at + duration) before the caller's scan
of the bucket started: then that scan saw everything the holder staged, and nothing the holder
already delivered is sent again.
"""

from __future__ import annotations

import hashlib
import socket
from datetime import datetime, timedelta
from typing import Callable

import orjson

from source_meta_capi.staging.keys import validate_pixel_id
from source_meta_capi.staging.records import iso_utc, parse_iso_utc
from source_meta_capi.staging.store import ObjectNotFoundError, ObjectStore

LEASE_AREA = "leases"
# Clocks of different hosts disagree; a lease is treated as this much longer than it says.
CLOCK_SKEW_MARGIN = timedelta(seconds=30)


class LeaseBook:
    """Grants leases on `(pixel_id, subject)` pairs, where a subject is a batch id."""

    def __init__(self, store: ObjectStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._owner = socket.gethostname()[:64]

    def acquire(self, pixel_id: str, subject: str, duration_s: float, scan_started_at: datetime) -> bool:
        """Take the next lease on `subject` for `duration_s`; False if someone may still hold it or
        held it after `scan_started_at`."""
        digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:40]
        prefix = f"{LEASE_AREA}/pixel_id={validate_pixel_id(pixel_id)}/{digest}/"
        existing = list(self._store.list_keys(prefix))
        sequence = 1
        if existing:
            last = existing[-1]
            sequence = int(last.rsplit("/", 1)[-1].split(".", 1)[0]) + 1
            try:
                previous = orjson.loads(self._store.get(last))
                ends = parse_iso_utc(previous["claimed_at"]) + timedelta(seconds=float(previous["duration_s"]))
            except (ObjectNotFoundError, orjson.JSONDecodeError, KeyError, ValueError, TypeError):
                ends = self._clock()  # unreadable: assume it was just taken
            if ends + CLOCK_SKEW_MARGIN >= scan_started_at:
                return False
        body = orjson.dumps(
            {"subject": subject, "claimed_at": iso_utc(self._clock()), "duration_s": duration_s, "owner": self._owner}
        )
        return self._store.put_if_absent(f"{prefix}{sequence:06d}.json", body)
