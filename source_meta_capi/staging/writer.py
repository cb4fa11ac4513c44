"""The writer side of the staging contract: durable, write-once, deadline-bounded commits."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Sequence

from source_meta_capi.staging.keys import (
    OBJECT_SUFFIX,
    ObjectKind,
    arrival_stamp,
    pixel_prefix,
    validate_pixel_id,
    validate_writer_id,
)
from source_meta_capi.staging.records import CURSOR_FIELD, encode_line, encode_lines, iso_utc, writer_suffix
from source_meta_capi.staging.store import ObjectStore, StoreUnavailableError

DEFAULT_COMMIT_DEADLINE_S = 30.0


class CommitDeadlineExceededError(StoreUnavailableError):
    """The object was not committed within the deadline and was abandoned (nothing was written).

    Abandoning is what lets readers trust their watermark: an object stamped with arrival `t` is
    either visible by `t + deadline` or never. The caller answers 503 and the client retries.
    """


@dataclass(frozen=True)
class PlannedObject:
    """An object whose key is fixed except for its content digest.

    The stem (`…/<arrival>-<writer>-`) is unique per writer and known before the content is; the
    commit deadline runs from `started_monotonic`.
    """

    kind: ObjectKind
    pixel_id: str
    arrival: datetime
    stem: str
    started_monotonic: float

    @property
    def arrival_iso(self) -> str:
        return iso_utc(self.arrival)


@dataclass(frozen=True)
class StagedObject:
    """A committed object."""

    key: str
    kind: ObjectKind
    pixel_id: str
    arrival: datetime
    commit_seconds: float


def default_writer_id() -> str:
    """Host + process + random, lowercase alphanumerics: unique among concurrent writers."""
    host = "".join(ch for ch in socket.gethostname().lower() if ch.isalnum())[:12] or "host"
    return validate_writer_id(f"{host}{os.getpid() % 100000}{secrets.token_hex(3)}"[:32])


class StagingWriter:
    """Stages records as write-once gzip JSON Lines objects under the key layout of keys.py.

    Thread-safe. Arrival stamps are strictly increasing per writer, so two objects of one writer
    never share a stem.
    """

    def __init__(
        self,
        store: ObjectStore,
        writer_id: Optional[str] = None,
        commit_deadline_s: float = DEFAULT_COMMIT_DEADLINE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._writer_id = validate_writer_id(writer_id or default_writer_id())
        self._deadline = commit_deadline_s
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last_arrival: Optional[datetime] = None

    @property
    def store(self) -> ObjectStore:
        return self._store

    @property
    def writer_id(self) -> str:
        return self._writer_id

    @property
    def commit_deadline_s(self) -> float:
        return self._deadline

    def plan(self, kind: ObjectKind, pixel_id: str) -> PlannedObject:
        """Stamp the arrival time of an object about to be written; the deadline starts now."""
        validate_pixel_id(pixel_id)
        with self._lock:
            arrival = self._clock().astimezone(timezone.utc)
            if self._last_arrival is not None and arrival <= self._last_arrival:
                arrival = self._last_arrival + timedelta(microseconds=1)
            self._last_arrival = arrival
        stem = (
            f"{pixel_prefix(kind, pixel_id)}date={arrival:%Y-%m-%d}/hour={arrival:%H}/"
            f"{arrival_stamp(arrival)}-{self._writer_id}-"
        )
        return PlannedObject(
            kind=kind, pixel_id=pixel_id, arrival=arrival, stem=stem, started_monotonic=self._monotonic()
        )

    def commit(self, planned: PlannedObject, records: Sequence[Mapping[str, Any]]) -> StagedObject:
        """Write the records; each gets the envelope fields the writer owns (cursor, schema version).

        Raises CommitDeadlineExceededError (nothing written) if the deadline has passed, the
        store's errors if the write fails, and TypeError if a record cannot be encoded (callers
        on the request path encode each record beforehand and use `commit_lines`).
        """
        return self.commit_lines(planned, [encode_line(record) for record in records])

    def commit_lines(self, planned: PlannedObject, lines: Sequence[bytes]) -> StagedObject:
        """Write records encoded beforehand with `records.encode_line`: the writer only splices
        its fields into each line, joins and compresses them (no JSON work in a group commit)."""
        encoded = encode_lines(lines, writer_suffix(CURSOR_FIELD[planned.kind], planned.arrival_iso))
        key = f"{planned.stem}{encoded.digest}{OBJECT_SUFFIX}"
        elapsed = self._monotonic() - planned.started_monotonic
        if elapsed > self._deadline:
            raise CommitDeadlineExceededError(
                f"abandoned {key}: {elapsed:.1f}s after its arrival stamp, past the {self._deadline:.0f}s commit deadline"
            )
        # False (the key exists) can only mean the very same content is there: same stem (unique
        # per writer and arrival) and same digest. A retry after a lost answer lands here.
        self._store.put_if_absent(key, encoded.data)
        return StagedObject(
            key=key,
            kind=planned.kind,
            pixel_id=planned.pixel_id,
            arrival=planned.arrival,
            commit_seconds=self._monotonic() - planned.started_monotonic,
        )

    def stage(self, kind: ObjectKind, pixel_id: str, records: Sequence[Mapping[str, Any]]) -> StagedObject:
        """plan + commit in one call."""
        return self.commit(self.plan(kind, pixel_id), records)
