"""Wiring: the long-lived objects one receiver process (or Lambda container) shares.

Built once from `ReceiverSettings`; the app, the Lambda handler and the jobs take a runtime so
tests can inject a store, an HTTP session and clocks.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional

import requests

from source_meta_capi.capi.events_client import CapiEventsClient
from source_meta_capi.receiver.forward_worker import BackgroundForwarder
from source_meta_capi.receiver.forwarding import Forwarder
from source_meta_capi.receiver.group_commit import GroupCommitter
from source_meta_capi.receiver.metrics import ReceiverMetrics
from source_meta_capi.receiver.queue_intake import QueueSender
from source_meta_capi.receiver.settings import ReceiverSettings
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import ObjectStore
from source_meta_capi.staging.writer import StagingWriter

# Retry-After of a 503 when the store failed: nothing to wait for but the store (a retry is
# staged afresh, whatever became of the failed attempt), so seconds rather than the deadline.
STORE_RETRY_AFTER_S = 5


@dataclass
class ReceiverRuntime:
    """Everything a receiver process shares between requests."""

    settings: ReceiverSettings
    store: ObjectStore
    writer: StagingWriter
    executor: ThreadPoolExecutor
    metrics: ReceiverMetrics
    committer: GroupCommitter
    forwarder: Forwarder
    background: Optional[BackgroundForwarder]
    wall_clock: Callable[[], float]
    # META_CAPI_INTAKE_MODE=queue: where each request goes instead of a group commit.
    queue: Optional[QueueSender] = None

    @property
    def retry_after_s(self) -> int:
        """The Retry-After of a 503 answered because the store failed."""
        return STORE_RETRY_AFTER_S

    def close(self) -> None:
        """Stop the background forwarder and the I/O threads."""
        if self.background is not None:
            self.background.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)


def build_runtime(
    settings: ReceiverSettings,
    *,
    store: Optional[ObjectStore] = None,
    session: Optional[requests.Session] = None,
    metrics: Optional[ReceiverMetrics] = None,
    wall_clock: Callable[[], float] = time.time,
    utc_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    events_client: Optional[CapiEventsClient] = None,
    monotonic: Callable[[], float] = time.monotonic,
    queue: Optional[QueueSender] = None,
) -> ReceiverRuntime:
    """Open the store and build the writer, committer and forwarders from settings.

    `events_client` and `monotonic` replace the Meta client and the forwarding clock (tests
    inject a fake clock so backoff waits are recorded instead of slept); `queue` replaces the
    SQS sender of the queue intake mode.
    """
    store = store if store is not None else open_store(settings.staging_url, settings.s3)
    if isinstance(store, LocalFolderStore):
        store.ensure_exists()  # the embedded default must work on a fresh machine
    metrics = metrics or ReceiverMetrics()
    writer = StagingWriter(
        store, writer_id=settings.writer_id, commit_deadline_s=settings.commit_deadline_s, clock=utc_clock
    )
    executor = ThreadPoolExecutor(max_workers=settings.io_threads, thread_name_prefix="meta-capi-io")
    committer = GroupCommitter(
        writer,
        executor,
        metrics,
        max_events=settings.group_commit_max_events,
        linger_s=settings.group_commit_linger_ms / 1000,
        rejoin_s=settings.group_commit_rejoin_ms / 1000,
        retry_after_s=STORE_RETRY_AFTER_S,
    )
    client = events_client or CapiEventsClient(
        settings.graph_base_url,
        settings.api_version,
        session=session,
        timeout=settings.forward_timeout_s,
        max_attempts=settings.forward_max_attempts,
        app_secret=settings.app_secret,
    )
    forwarder = Forwarder(
        client,
        writer,
        settings.access_tokens,
        metrics,
        api_version=settings.api_version,
        default_partner_agent=settings.partner_agent,
        monotonic=monotonic,
    )
    background = None
    if settings.forward_mode == "background":
        background = BackgroundForwarder(
            forwarder,
            metrics,
            queue_size=settings.forward_queue_size,
            batch_deadline_s=settings.forward_batch_deadline_s,
            max_start_age_s=settings.forward_max_start_age_s,
        )
    if queue is None and settings.intake_mode == "queue" and settings.queue_url:
        queue = QueueSender(
            settings.queue_url,
            endpoint_url=settings.sqs_endpoint_url,
            region=settings.s3_region,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
        )
    return ReceiverRuntime(
        settings, store, writer, executor, metrics, committer, forwarder, background, wall_clock, queue
    )
