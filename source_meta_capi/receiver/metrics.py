"""Prometheus metrics of the receiver, in its own CollectorRegistry (so tests and several apps in
one process never collide, and /metrics shows only these).

Labels are bounded vocabularies: pixel ids (business identifiers, only after authentication),
reason codes and field names from our own validation, kinds and outcomes. Never an event id, a
user value, a header or a message.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ReceiverMetrics:
    """Every counter and histogram the receiver and its jobs update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "meta_capi_receiver_requests", "HTTP requests by route and status code.", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "meta_capi_receiver_request_seconds",
            "Request latency by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.signature_failures = Counter(
            "meta_capi_receiver_signature_failures",
            "Requests refused for their signature, by reason.",
            ["reason"],
            registry=r,
        )
        self.events_received = Counter(
            "meta_capi_receiver_events_received", "Events in authenticated requests.", ["pixel_id"], registry=r
        )
        self.events_accepted = Counter(
            "meta_capi_receiver_events_accepted", "Events accepted and staged.", ["pixel_id"], registry=r
        )
        self.events_rejected = Counter(
            "meta_capi_receiver_events_rejected",
            "Events refused at intake, by the field at fault.",
            ["pixel_id", "field"],
            registry=r,
        )
        self.test_events = Counter(
            "meta_capi_receiver_test_events",
            "Events carrying a test_event_code, by outcome: accepted, or refused (the pixel takes no test events).",
            ["pixel_id", "outcome"],
            registry=r,
        )
        self.schema_drift = Counter(
            "meta_capi_receiver_schema_drift",
            "Events refused because a field attribution needs is missing or malformed, by field.",
            ["pixel_id", "field"],
            registry=r,
        )
        self.events_staged = Counter(
            "meta_capi_receiver_events_staged", "Event records durably staged.", ["pixel_id"], registry=r
        )
        self.objects_staged = Counter(
            "meta_capi_receiver_objects_staged", "Objects written, by kind.", ["kind"], registry=r
        )
        self.group_commit_requests = Histogram(
            "meta_capi_receiver_group_commit_requests",
            "Requests sharing one events object.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "meta_capi_receiver_commit_seconds",
            "Time to stage a group (its dead-letters and events objects).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "meta_capi_receiver_store_errors", "Store failures, by operation.", ["operation"], registry=r
        )
        self.events_forwarded = Counter(
            "meta_capi_receiver_events_forwarded",
            "Events after a forwarding run, by fate.",
            ["pixel_id", "fate"],
            registry=r,
        )
        self.forward_requests = Counter(
            "meta_capi_receiver_forward_requests",
            "HTTP requests to Meta, by result.",
            ["pixel_id", "result"],
            registry=r,
        )
        self.forward_retries = Counter(
            "meta_capi_receiver_forward_retries", "Requests to Meta that were retries.", ["pixel_id"], registry=r
        )
        self.forward_seconds = Histogram(
            "meta_capi_receiver_forward_seconds",
            "Latency of one request to Meta.",
            ["pixel_id"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.forward_skipped = Counter(
            "meta_capi_receiver_forward_skipped",
            "Batches left to redrive instead of forwarded now, by reason.",
            ["reason"],
            registry=r,
        )
        self.forward_queue_depth = Gauge(
            "meta_capi_receiver_forward_queue_depth", "Batches waiting for the background forwarder.", registry=r
        )
        self.normalization_warnings = Counter(
            "meta_capi_receiver_normalization_warnings",
            "Accepted events' normalization warnings, by kind (WarningKind: weak_match_keys, dropped_value, …).",
            ["pixel_id", "kind"],
            registry=r,
        )
        self.dead_letters = Counter(
            "meta_capi_receiver_dead_letters",
            "Dead-letter records staged, by stage.",
            ["pixel_id", "stage"],
            registry=r,
        )

    def child(self, metric: M, *labels: str) -> M:
        """`metric.labels(*labels)`, cached: `labels()` validates, locks and builds a key on
        every call, which the request path pays several times per request otherwise. The cache
        holds exactly the children the registry already keeps."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found  # type: ignore[no-any-return]

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
