"""What one :meth:`CapiEventsClient.send` call did: every HTTP attempt and every event's fate.

These records feed the ``delivery_statuses`` and ``dead_letters`` streams, so they carry
Meta's answer (``events_received``, ``messages``, ``fbtrace_id``, error code and class) and
never a token, a request body or personal data: messages are redacted when parsed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from source_meta_capi.capi.graph_errors import ErrorClass, GraphError

__all__ = ["AttemptRecord", "DeliveryReport", "EventFate", "EventOutcome"]


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP request to ``/{pixel_id}/events`` and what came back.

    ``attempt`` numbers requests 1, 2, 3… across the whole ``send`` call, so it is unique
    within a report (the ``delivery_statuses`` primary key is pixel, batch, attempt).
    ``try_number`` counts tries of this exact set of events (1 = first try; bisected
    sub-batches start again at 1). ``next_retry_at`` is set only when the same events will be
    sent again; ``retryable`` says whether the error class allows a retry at all.
    """

    attempt: int
    try_number: int
    event_ids: tuple[str, ...]
    http_status: int | None
    events_received: int | None
    messages: tuple[str, ...]
    fbtrace_id: str | None
    error_code: int | None
    error_subcode: int | None
    error_type: str | None
    error_message: str | None
    error_class: ErrorClass | None
    retryable: bool
    next_retry_at: datetime | None
    started_at: datetime
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        """Whether Meta accepted every event of this request."""
        return self.error_class is None


class EventFate(enum.Enum):
    """Where an event ended up."""

    DELIVERED = "delivered"
    """Meta answered 2xx for a request containing it."""
    REJECTED = "rejected"
    """Meta refused it alone with a permanent error: dead-letter it, never resend unchanged."""
    UNDELIVERED = "undelivered"
    """Not sent successfully (retry budget, deadline, auth or path error): redrive it later."""


@dataclass(frozen=True)
class EventOutcome:
    """The fate of one input event, by its position in the ``events`` list given to ``send``."""

    index: int
    event_id: str
    fate: EventFate
    reason: str | None = None
    error: GraphError | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """Everything one ``send`` call did, in request order.

    Every input event has exactly one outcome. ``halted_by`` is set when an error that no
    retry or bisection can fix (AUTH, or an unknown path) stopped the whole send.
    """

    pixel_id: str
    attempts: tuple[AttemptRecord, ...]
    outcomes: tuple[EventOutcome, ...]
    halted_by: GraphError | None = None

    @property
    def delivered_event_ids(self) -> tuple[str, ...]:
        """Event ids Meta accepted, in input order."""
        return self._ids(EventFate.DELIVERED)

    @property
    def rejected_event_ids(self) -> tuple[str, ...]:
        """Event ids Meta refused permanently, in input order."""
        return self._ids(EventFate.REJECTED)

    @property
    def undelivered_event_ids(self) -> tuple[str, ...]:
        """Event ids still to be sent (dead-letter and redrive them), in input order."""
        return self._ids(EventFate.UNDELIVERED)

    @property
    def rejected(self) -> tuple[EventOutcome, ...]:
        """Outcomes of rejected events, each with its reason and Meta's error."""
        return tuple(o for o in self.outcomes if o.fate is EventFate.REJECTED)

    @property
    def undelivered(self) -> tuple[EventOutcome, ...]:
        """Outcomes of undelivered events, each with the reason they were not sent."""
        return tuple(o for o in self.outcomes if o.fate is EventFate.UNDELIVERED)

    @property
    def events_received(self) -> int:
        """Sum of Meta's ``events_received`` over successful attempts."""
        return sum(a.events_received or 0 for a in self.attempts if a.succeeded)

    @property
    def complete(self) -> bool:
        """Whether every event was delivered."""
        return all(o.fate is EventFate.DELIVERED for o in self.outcomes)

    def _ids(self, fate: EventFate) -> tuple[str, ...]:
        return tuple(o.event_id for o in self.outcomes if o.fate is fate)
