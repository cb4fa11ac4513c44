"""Worker processes that decode, check and re-encode staged objects for the console entry point.

Why processes: our per-record work (gunzip, JSON parsing, checks, identity filter: ~10 us) on
the CDK's worker threads would share one GIL with the CDK's own per-record path. Here it runs
beside the CDK on other cores, and the records come back as chunks of finished RECORD message
lines (`record_messages.py`), which the console entry point writes as they are
(`raw_output.py`): the main process does no per-record work at all.

Identities are deduplicated inside the workers: every object of a pixel goes to the same worker
(the pixel is part of the identity), so the filter stays exact. Pixels are handed to workers in
the order they are first seen, round robin, so that the push streams' partitions (generated
pixel by pixel in turn) keep every worker busy.

Pure (no airbyte_cdk): the workers are spawned interpreters that import only this module's
dependencies.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import orjson

from source_meta_capi.push.object_checks import CheckedObject, Finding, ObjectScope, check_object
from source_meta_capi.push.record_checks import RecordTypeChecker
from source_meta_capi.push.record_messages import RecordChunk, record_message_chunks
from source_meta_capi.staging.identity_filter import DEFAULT_MEMORY_ENTRIES, IdentityFilter

logger = logging.getLogger("airbyte.source_meta_capi")


class DecoderPoolError(RuntimeError):
    """A decoder process died or could not start."""


@dataclass(frozen=True)
class EncodedObject:
    """What a worker sends back for one object: its accepted records as RECORD message chunks,
    and findings."""

    chunks: list[RecordChunk]
    findings: list[Finding]
    filtered_by_event_type: int
    repeats_dropped: int
    readable: bool


class RecordDecoderPool:
    """`processes` single-process executors; objects are routed to one by pixel id."""

    def __init__(self, processes: int, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        if processes < 1:
            raise ValueError("a decoder pool needs at least one process")
        # spawn, not fork: the CDK runs threads by the time the pool starts, and forking a
        # threaded process can copy a held lock. The workers import no airbyte_cdk.
        context = multiprocessing.get_context("spawn")
        # The identity filter's in-memory part is split between the workers: same memory in all.
        memory_entries = max(1_000, DEFAULT_MEMORY_ENTRIES // processes)
        self._executors = [
            ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_start_worker, initargs=(dict(schemas), memory_entries)
            )
            for _ in range(processes)
        ]
        self._owner_lock = threading.Lock()
        self._owner_of: dict[str, ProcessPoolExecutor] = {}

    def _owner(self, pixel_id: str) -> ProcessPoolExecutor:
        """The worker of a pixel: the next one in turn when the pixel is first seen, then always it."""
        with self._owner_lock:
            executor = self._owner_of.get(pixel_id)
            if executor is None:
                executor = self._owner_of[pixel_id] = self._executors[len(self._owner_of) % len(self._executors)]
            return executor

    def decode(self, scope: ObjectScope, data: bytes) -> EncodedObject:
        """Check one object in the worker that owns its pixel; blocks until it is done."""
        executor = self._owner(scope.pixel_id)
        try:
            return executor.submit(_decode, scope, data).result()
        except BrokenProcessPool as error:
            raise DecoderPoolError(
                "A record decoder process stopped unexpectedly (killed, or out of memory)."
            ) from error

    def close(self) -> None:
        """Let the workers release their identity files, then stop them."""
        for executor in self._executors:
            try:
                executor.submit(_stop_worker).result(timeout=30)
            except Exception:  # best effort: a dead worker has nothing to release
                pass
            executor.shutdown(wait=True, cancel_futures=True)


# ---- inside a worker process ------------------------------------------------------------------
_checkers: dict[str, RecordTypeChecker] = {}
_identities: dict[str, IdentityFilter] = {}
_schemas: dict[str, Mapping[str, Any]] = {}
_memory_entries = DEFAULT_MEMORY_ENTRIES


def _start_worker(schemas: dict[str, Mapping[str, Any]], memory_entries: int) -> None:
    global _memory_entries
    _schemas.update(schemas)
    _memory_entries = memory_entries
    # Parsed records hold no reference cycles and die with their object, yet their allocations
    # trigger a young-generation collection every 700 containers: ~15 % of a worker's time
    # (docs/benchmarks.md). Collections stay on, ~70× rarer, over a frozen start-up heap.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    """End this worker when the sync's process ends, however it ends.

    A worker holds both ends of its task queue's pipe, so it would never see end-of-file: a sync
    killed with SIGKILL (a PyAirbyte user's Ctrl-C, a timeout) would leave it waiting forever.
    """
    multiprocessing.connection.wait([parent_sentinel])
    _stop_worker()
    os._exit(0)


def _decode(scope: ObjectScope, data: bytes) -> EncodedObject:
    checker = _checkers.get(scope.stream)
    if checker is None:
        checker = _checkers[scope.stream] = RecordTypeChecker(_schemas[scope.stream])
    identities: Optional[IdentityFilter] = None
    if scope.is_events:
        identities = _identities.get(scope.stream)
        if identities is None:
            identities = _identities[scope.stream] = IdentityFilter(_memory_entries)
    checked: CheckedObject = check_object(scope, data, checker, identities)
    return EncodedObject(
        chunks=record_message_chunks(scope.stream, _record_lines(scope, checked)),
        findings=checked.findings,
        filtered_by_event_type=checked.filtered_by_event_type,
        repeats_dropped=checked.repeats_dropped,
        readable=checked.readable,
    )


def _record_lines(scope: ObjectScope, checked: CheckedObject) -> list[bytes]:
    """Each accepted record as JSON with the same data the CDK would write for it.

    Mostly the staged line itself with the source's fields spliced in before its closing brace:
    the record is exactly what was parsed from that line plus those fields, appended in that
    order, and a re-encode would cost ~2 us per record. Re-encoded instead: a record with a
    top-level null (the CDK leaves those out) or whose line already names a source field (a
    splice would repeat the key; the substring test may also hit a nested value: harmless).
    """
    ad_account = scope.ad_account_id
    suffix = (b',"ad_account_id":' + orjson.dumps(ad_account) if ad_account else b"") + (
        b',"_staged_object":' + orjson.dumps(scope.key) + b"}"
    )
    out: list[bytes] = []
    append = out.append
    for record, line in zip(checked.records, checked.lines, strict=True):
        line = line.rstrip()
        if (
            line.endswith(b"}")
            and b'"_staged_object"' not in line
            and b'"ad_account_id"' not in line
            and None not in record.values()
        ):
            append(line[:-1] + suffix)
        else:
            append(record_json(record))
    return out


def record_json(record: dict[str, Any]) -> bytes:
    """The JSON the CDK's writer would give a record's data: it leaves out top-level null fields."""
    if None in record.values():
        record = {name: value for name, value in record.items() if value is not None}
    return orjson.dumps(record)


def _stop_worker() -> None:
    for identities in _identities.values():
        identities.close()
    _identities.clear()


class LazyDecoderPool:
    """One pool per sync, shared by the push streams, started by the first object it decodes.

    A sync that finds nothing to read (the common incremental case) starts no process at all.
    """

    def __init__(self, processes: int, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self.processes = processes
        self._schemas = dict(schemas)
        self._lock = threading.Lock()
        self._pool: Optional[RecordDecoderPool] = None
        self._closed = False
        self._unavailable = False

    def get(self) -> Optional[RecordDecoderPool]:
        """The pool, started on first use; None when this host cannot run one (then check in-thread).

        Deciding before the first object is decoded keeps the identity filter exact: every
        object of the sync goes down the same path.
        """
        with self._lock:
            if self._closed:
                raise DecoderPoolError("the record decoder pool is closed")
            if self._pool is None and not self._unavailable:
                try:
                    self._pool = RecordDecoderPool(self.processes, self._schemas)
                except (OSError, ImportError, NotImplementedError) as error:
                    # e.g. no /dev/shm for multiprocessing's semaphores in some sandboxes.
                    self._unavailable = True
                    logger.warning(
                        "Cannot start record decoder processes (%s); checking records on the sync's own threads.",
                        error,
                    )
            return self._pool

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
