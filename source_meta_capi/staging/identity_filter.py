"""Drops repeats of an event identity within one sync, in bounded memory."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
from typing import Any, Optional

# 200k digests of 16 bytes cost ~25 MiB in a Python set; beyond that the filter moves to a
# temporary SQLite file whose page cache is capped, so memory stays flat however big the sync.
DEFAULT_MEMORY_ENTRIES = 200_000


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
        if event_id is None:
            return True
        digest = hashlib.blake2b(
            f"{pixel_id}\x1f{event_id}\x1f{event_time}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        with self._lock:
            if self._db is None:
                if digest in self._memory:
                    self.repeats += 1
                    return False
                self._memory.add(digest)
                if len(self._memory) > self._limit:
                    self._spill()
                return True
            cursor = self._db.execute("INSERT OR IGNORE INTO seen(k) VALUES (?)", (digest,))
            if cursor.rowcount == 0:
                self.repeats += 1
                return False
            return True

    def _spill(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="meta-capi-identities-")
        self._db = sqlite3.connect(
            os.path.join(self._dir.name, "seen.db"), check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-16384")
        self._db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO seen(k) VALUES (?)", ((d,) for d in self._memory))
        self._db.execute("COMMIT")
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
