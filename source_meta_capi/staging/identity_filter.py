"""Drops repeats of an event identity within one sync, in bounded memory."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from hashlib import blake2b
from typing import Any, Iterable, Optional

# 100k digests of 16 bytes cost ~8 MiB in a Python set; beyond that the filter moves to a
# temporary SQLite file whose page cache is capped (4 MiB), so memory stays flat however big the
# sync: measured flat from 100k to 1M events (docs/benchmarks.md). One filter serves every pixel
# of a stream (the pixel is part of the identity), so the cap does not multiply with pixels.
DEFAULT_MEMORY_ENTRIES = 100_000
_SQLITE_CACHE_KIB = 4096
# Bound parameters per lookup query (SQLite's limit is 32766 since 3.32, 999 before).
_QUERY_BATCH = 900


class IdentityFilter:
    """Remembers `(pixel_id, event_id, event_time)` identities seen in this sync.

    Exact (no false positives, so nothing is dropped wrongly): an in-memory set up to
    `memory_entries`, then a temporary on-disk SQLite table. Thread-safe.
    """

    def __init__(self, memory_entries: int = DEFAULT_MEMORY_ENTRIES) -> None:
        self._limit = memory_entries
        self._memory: set[bytes] = set()
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = None
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None
        self.repeats = 0

    def first_time(self, pixel_id: str, event_id: Any, event_time: Any) -> bool:
        """True the first time an identity is seen; events without an event_id are always new."""
        return self.first_times(pixel_id, ((event_id, event_time),))[0]

    def first_times(self, pixel_id: str, identities: Iterable[tuple[Any, Any]]) -> list[bool]:
        """`first_time` for a sequence of (event_id, event_time) of one pixel, in order.

        Once spilled, one batch costs one SQLite lookup query and one bulk insert instead of an
        insert per identity (measured ~7 us each, the largest per-record cost of a 1M-event sync).
        """
        digests = [
            None
            if event_id is None
            else blake2b(
                f"{pixel_id}\x1f{event_id}\x1f{event_time}".encode("utf-8", "surrogatepass"), digest_size=16
            ).digest()
            for event_id, event_time in identities
        ]
        with self._lock:
            if self._db is None:
                fresh = self._first_times_in(self._memory, digests, None)
                if len(self._memory) > self._limit:
                    self._spill()
                return fresh
            wanted = list({digest for digest in digests if digest is not None})
            known: set[bytes] = set()
            for start in range(0, len(wanted), _QUERY_BATCH):
                chunk = wanted[start : start + _QUERY_BATCH]
                placeholders = ",".join("?" * len(chunk))
                known.update(
                    row[0] for row in self._db.execute(f"SELECT k FROM seen WHERE k IN ({placeholders})", chunk)
                )
            new: list[tuple[bytes]] = []
            fresh = self._first_times_in(known, digests, new)
            self._db.executemany("INSERT INTO seen(k) VALUES (?)", new)
            return fresh

    def _first_times_in(
        self, seen: set[bytes], digests: list[Optional[bytes]], new: Optional[list[tuple[bytes]]]
    ) -> list[bool]:
        fresh: list[bool] = []
        for digest in digests:
            if digest is None:
                fresh.append(True)
            elif digest in seen:
                self.repeats += 1
                fresh.append(False)
            else:
                seen.add(digest)
                if new is not None:
                    new.append((digest,))
                fresh.append(True)
        return fresh

    def _spill(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="meta-capi-identities-")
        self._db = sqlite3.connect(
            os.path.join(self._dir.name, "seen.db"), check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
        self._db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY) WITHOUT ROWID")
        # One transaction for the filter's whole life, never committed: the file is private and
        # thrown away, and a commit per insert (autocommit) made each insert ~6x slower. SQLite
        # still spills dirty pages to the file past cache_size, so memory stays capped.
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO seen(k) VALUES (?)", ((d,) for d in self._memory))
        self._memory = set()

    def close(self) -> None:
        """Release the temporary file, if any."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None
