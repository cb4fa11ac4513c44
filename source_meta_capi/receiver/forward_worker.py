"""The background forwarder of a long-running receiver (`META_CAPI_FORWARD_MODE=background`).

Accepted batches are queued after they are staged and sent by worker threads, so the answer
does not wait for Meta. The queue is bounded and best-effort by design: a batch that does not
fit, waits too long, or is still queued at shutdown is simply left in the bucket, where the
redrive job finds it (acceptance durability never depends on this queue).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Optional

from source_meta_capi.receiver.forwarding import ForwardBatch, Forwarder
from source_meta_capi.receiver.json_logging import log
from source_meta_capi.receiver.metrics import ReceiverMetrics


class BackgroundForwarder:
    """Worker threads draining a bounded queue of batches into `Forwarder.forward`."""

    def __init__(
        self,
        forwarder: Forwarder,
        metrics: ReceiverMetrics,
        *,
        queue_size: int,
        batch_deadline_s: float,
        max_start_age_s: float,
        workers: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._forwarder = forwarder
        self._metrics = metrics
        self._queue: queue.Queue[Optional[ForwardBatch]] = queue.Queue(maxsize=queue_size)
        self._batch_deadline_s = batch_deadline_s
        self._max_start_age_s = max_start_age_s
        self._monotonic = monotonic
        self._threads = [
            threading.Thread(target=self._run, name=f"meta-capi-forwarder-{i}", daemon=True) for i in range(workers)
        ]
        self._started = False
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def submit(self, batch: ForwardBatch) -> bool:
        """Queue a staged batch; False (left to redrive) when the queue is full or stopping."""
        if self._stopping.is_set() or not self._forwarder.has_token(batch.pixel_id):
            return False
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._metrics.forward_skipped.labels("queue_full").inc()
            return False
        self._metrics.forward_queue_depth.set(self._queue.qsize())
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Block until the queue is empty and no batch is being sent (tests, graceful shutdown)."""
        end = self._monotonic() + timeout
        with self._idle:
            while self._queue.qsize() or self._busy:
                remaining = end - self._monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what fits in `timeout`; anything still queued stays staged for redrive."""
        self.wait_idle(timeout)
        self._stopping.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        left = 0
        while True:
            try:
                if self._queue.get_nowait() is not None:
                    left += 1
            except queue.Empty:
                break
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        if left:
            self._metrics.forward_skipped.labels("shutdown").inc(left)
            log(logging.WARNING, "batches left to redrive at shutdown", count=left)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(1.0, self._batch_deadline_s / 10))

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            with self._idle:
                self._busy += 1
            try:
                self._metrics.forward_queue_depth.set(self._queue.qsize())
                if self._monotonic() - batch.accepted_monotonic > self._max_start_age_s:
                    # Too late to start: redrive's window assumes we never start a batch this old.
                    self._metrics.forward_skipped.labels("stale").inc()
                elif not self._stopping.is_set():
                    self._forwarder.forward(batch, self._batch_deadline_s)
            except Exception as error:  # a worker must survive any batch
                log(
                    logging.ERROR,
                    "background forwarding failed",
                    pixel_id=batch.pixel_id,
                    batch_id=batch.batch_id,
                    reason=type(error).__name__,
                )
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()
