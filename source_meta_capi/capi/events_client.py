"""The Conversions API client: ``POST /{ver}/{pixel_id}/events`` with retries and bisection.

Decisions (fact sheet §1, §6, §7):

- The token travels in an ``Authorization: Bearer`` header, as Segment sends it (§1.1), never
  in the URL (URLs end up in proxy and exception logs) nor in the body (bodies get staged).
  ``appsecret_proof`` (and ``appsecret_time``) go in the query string: the proof is an HMAC
  that cannot be turned back into the token, and redaction masks it anyway.
- The body is JSON with ``data`` as an array (Segment's encoding, §1.1), at most 1,000 events
  per request (§1.2); longer lists are split into chunks sent one after another.
- A request is all-or-nothing (§1.2), so a permanent error on a multi-event request is
  bisected until each bad event is refused alone; the rest is delivered. ``blame_field_specs``
  naming ``data[i]`` shortcuts the search. Transient and throttled errors are retried with
  :func:`~source_meta_capi.capi.rate_limits.backoff_seconds`; auth errors and unknown paths
  halt the send. Nothing is lost: every event ends delivered, rejected or undelivered.
- A timed-out request may have reached Meta; resending is safe because Meta deduplicates on
  ``event_name`` + ``event_id`` for 48 h (§5), which is why every event needs an ``event_id``.
- Usage headers are read on every response and the next request waits for
  :func:`~source_meta_capi.capi.rate_limits.pacing_delay` (§6.3).
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from source_meta_capi.capi.appsecret_proof import proof_params
from source_meta_capi.capi.delivery_report import (
    AttemptRecord,
    DeliveryReport,
    EventFate,
    EventOutcome,
)
from source_meta_capi.capi.events_transport import (
    EventsAnswer,
    post_events,
)
from source_meta_capi.capi.graph_api import (
    API_VERSION_PATTERN,
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_BASE_URL,
    PIXEL_ID_PATTERN,
    PIXEL_ID_RULE,
)
from source_meta_capi.capi.graph_errors import (
    ErrorClass,
    GraphError,
    describe_for_user,
    redact_secrets,
)
from source_meta_capi.capi.rate_limits import (
    DEFAULT_POLICY,
    BackoffPolicy,
    UsageSnapshot,
    backoff_seconds,
    pacing_delay,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_GRAPH_BASE_URL",
    "DEFAULT_PARTNER_AGENT",
    "MAX_EVENTS_PER_REQUEST",
    "CapiEventsClient",
]

# §1.1: "[partner_name]_[major]_[minor]"; the Dataset Quality API filters on partner_name.
DEFAULT_PARTNER_AGENT = "sourcemetacapi_0_1"
MAX_EVENTS_PER_REQUEST = 1000  # §1.2
DEFAULT_TIMEOUT_SECONDS = 1.5  # §1.2: Meta suggests a 1500 ms client timeout.
DEFAULT_MAX_ATTEMPTS = 5

_BLAMED_INDEX = re.compile(r"^data\[(\d+)\]")


@dataclass
class _Job:
    indexes: tuple[int, ...]
    try_number: int = 1
    not_before: float = 0.0


class CapiEventsClient:
    """Sends server events to Meta and reports every attempt; never raises on Meta's answers.

    ``monotonic``/``sleep`` drive waiting and deadlines, ``utcnow`` stamps records and
    ``unix_time`` feeds the time-stamped ``appsecret_proof``; tests inject all four and
    ``rng`` to make backoff deterministic.
    """

    def __init__(
        self,
        graph_base_url: str = DEFAULT_GRAPH_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        session: requests.Session | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_batch_size: int = MAX_EVENTS_PER_REQUEST,
        policy: BackoffPolicy = DEFAULT_POLICY,
        app_secret: str | None = None,
        appsecret_timed: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
        unix_time: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not API_VERSION_PATTERN.fullmatch(api_version):
            raise ValueError(f"api_version must look like 'v26.0', got {api_version!r}")
        if not 1 <= max_batch_size <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"max_batch_size must be 1..1000, got {max_batch_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._base_url = graph_base_url.rstrip("/")
        self._api_version = api_version
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_batch_size = max_batch_size
        self._policy = policy
        self._app_secret = app_secret
        self._appsecret_timed = appsecret_timed
        self._monotonic = monotonic
        self._sleep = sleep
        self._utcnow = utcnow
        self._unix_time = unix_time
        self._rng = rng if rng is not None else random.Random()

    def send(
        self,
        pixel_id: str,
        access_token: str,
        events: Sequence[Mapping[str, Any]],
        *,
        test_event_code: str | None = None,
        partner_agent: str | None = DEFAULT_PARTNER_AGENT,
        deadline: float | None = None,
    ) -> DeliveryReport:
        """Deliver ``events`` to ``pixel_id``; every event ends delivered, rejected or undelivered.

        ``deadline`` is a ``monotonic()`` instant: no request starts at or after it, request
        timeouts shrink to fit before it, and events still pending become undelivered.
        Raises :class:`ValueError` (before any request) for a malformed pixel id, an empty
        token or an event without ``event_id``.
        """
        if not PIXEL_ID_PATTERN.fullmatch(pixel_id):
            raise ValueError(f"pixel_id must be {PIXEL_ID_RULE}, got {pixel_id!r}")
        if not access_token:
            raise ValueError("access_token must be a non-empty string")
        event_ids = tuple(_event_id(index, event) for index, event in enumerate(events))
        extras = {"partner_agent": partner_agent, "test_event_code": test_event_code}
        body_extras = {key: value for key, value in extras.items() if value}
        run = _SendRun(self, pixel_id, access_token, events, event_ids, deadline, body_extras)
        return run.execute()


class _SendRun:
    """The state of one ``send`` call: its queue of requests, attempts and outcomes."""

    def __init__(
        self,
        client: CapiEventsClient,
        pixel_id: str,
        token: str,
        events: Sequence[Mapping[str, Any]],
        event_ids: tuple[str, ...],
        deadline: float | None,
        body_extras: dict[str, str],
    ) -> None:
        self.client = client
        self.pixel_id = pixel_id
        self.token = token
        self.events = events
        self.event_ids = event_ids
        self.deadline = deadline
        self.body_extras = body_extras
        self.attempts: list[AttemptRecord] = []
        self.outcomes: dict[int, EventOutcome] = {}
        self.halted_by: GraphError | None = None
        size = client._max_batch_size
        indexes = range(len(events))
        self.queue = deque(_Job(tuple(indexes[i : i + size])) for i in range(0, len(indexes), size))
        self.pace_until = 0.0

    def execute(self) -> DeliveryReport:
        while self.queue:
            job = self.queue.popleft()
            now = self.client._monotonic()
            start_at = max(now, job.not_before, self.pace_until)
            if self.deadline is not None and start_at >= self.deadline:
                self._give_up([job, *self.queue], "deadline reached before the events were sent")
                break
            if start_at > now:
                self.client._sleep(start_at - now)
            if not self._attempt(job):
                break
        ordered = tuple(self.outcomes[i] for i in range(len(self.events)))
        return DeliveryReport(self.pixel_id, tuple(self.attempts), ordered, self.halted_by)

    def _attempt(self, job: _Job) -> bool:
        """Send one request and schedule what follows; False when the send must halt."""
        client = self.client
        started_at = client._utcnow()
        began = client._monotonic()
        answer = self._post(job, began)
        finished = client._monotonic()
        self.pace_until = finished + pacing_delay(answer.usage, client._policy)
        error = answer.error
        error_class = error.error_class if error is not None else None
        next_retry_at: datetime | None = None
        halt = False
        if error is None:
            self._settle(job.indexes, EventFate.DELIVERED)
        elif _too_heavy(error) and len(job.indexes) > 1:
            self._split(job.indexes, job.try_number, finished)
        elif error_class is not None and error_class.retryable:
            next_retry_at = self._schedule_retry(job, error, answer.usage, finished)
        elif error_class is ErrorClass.AUTH or not _event_level(error):
            # Token, permission, path and unknown errors are not shown to be the events'
            # fault and would hit every request alike: stop, leave everything for a redrive.
            self.halted_by = error
            reason = describe_for_user(error, self.pixel_id)
            self._give_up([job, *self.queue], reason, error)
            self.queue.clear()
            halt = True
        elif len(job.indexes) == 1:
            self._settle(job.indexes, EventFate.REJECTED, self._redact(_reason(error)), error)
        else:
            self._bisect(job.indexes, error, finished)
        self.attempts.append(
            AttemptRecord(
                attempt=len(self.attempts) + 1,
                try_number=job.try_number,
                event_ids=tuple(self.event_ids[i] for i in job.indexes),
                http_status=answer.http_status,
                events_received=answer.events_received,
                messages=answer.messages,
                fbtrace_id=answer.fbtrace_id,
                error_code=error.code if error else None,
                error_subcode=error.subcode if error else None,
                error_type=error.type if error else None,
                error_message=self._redact(error.message) if error else None,
                error_class=error_class,
                retryable=error_class.retryable if error_class else False,
                next_retry_at=next_retry_at,
                started_at=started_at,
                duration_ms=round((finished - began) * 1000),
            )
        )
        return not halt

    def _post(self, job: _Job, began: float) -> EventsAnswer:
        client = self.client
        timeout = client._timeout
        if self.deadline is not None:
            timeout = max(0.001, min(timeout, self.deadline - began))
        params = {}
        if client._app_secret:
            unix_time = int(client._unix_time()) if client._appsecret_timed else None
            params = proof_params(client._app_secret, self.token, unix_time)
        return post_events(
            client._session,
            f"{client._base_url}/{client._api_version}/{self.pixel_id}/events",
            self.token,
            {"data": [self.events[i] for i in job.indexes], **self.body_extras},
            params=params,
            timeout=timeout,
            secrets=(self.token, client._app_secret or ""),
        )

    def _schedule_retry(self, job: _Job, error: GraphError, usage: UsageSnapshot, now: float) -> datetime | None:
        client = self.client
        label = f"{error.code_label}: {self._redact(error.message)}"
        if job.try_number >= client._max_attempts:
            reason = f"retry budget exhausted after {job.try_number} tries ({label})"
            self._give_up([job], reason, error)
            return None
        delay = backoff_seconds(job.try_number, error.error_class, usage, client._rng, client._policy)
        retry_at = now + delay
        if self.deadline is not None and retry_at >= self.deadline:
            self._give_up([job], f"deadline reached before the next retry ({label})", error)
            return None
        self.queue.appendleft(_Job(job.indexes, job.try_number + 1, retry_at))
        return client._utcnow() + timedelta(seconds=delay)

    def _split(self, indexes: tuple[int, ...], try_number: int, now: float) -> None:
        middle = len(indexes) // 2
        self.queue.extendleft(
            [
                _Job(indexes[middle:], try_number, now),
                _Job(indexes[:middle], try_number, now),
            ]
        )

    def _bisect(self, indexes: tuple[int, ...], error: GraphError, now: float) -> None:
        blamed = _blamed_positions(error, len(indexes))
        if blamed and len(blamed) < len(indexes):
            suspects = [_Job((indexes[p],), 1, now) for p in sorted(blamed)]
            rest = tuple(i for p, i in enumerate(indexes) if p not in blamed)
            self.queue.extendleft(reversed([_Job(rest, 1, now), *suspects]))
        else:
            self._split(indexes, 1, now)

    def _settle(
        self,
        indexes: Sequence[int],
        fate: EventFate,
        reason: str | None = None,
        error: GraphError | None = None,
    ) -> None:
        for index in indexes:
            self.outcomes[index] = EventOutcome(index, self.event_ids[index], fate, reason, error)

    def _give_up(self, jobs: Sequence[_Job], reason: str, error: GraphError | None = None) -> None:
        for job in jobs:
            self._settle(job.indexes, EventFate.UNDELIVERED, self._redact(reason), error)

    def _redact(self, text: str) -> str:
        return redact_secrets(text, (self.token, self.client._app_secret or ""))


def _event_id(index: int, event: Mapping[str, Any]) -> str:
    value = event.get("event_id") if isinstance(event, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise ValueError(f"event at index {index} has no event_id; Meta dedup (§5) needs one")
    return str(value)


def _event_level(error: GraphError) -> bool:
    # §6.2: CAPI payload failures are code 100 (2804xxx subcodes) or blame a field; other
    # permanent codes (2500, unknown ones, proxy 4xx) are about the request, not an event.
    return error.code == 100 or bool(error.blame_field_specs) or _too_heavy(error)


def _too_heavy(error: GraphError) -> bool:
    # §6.2: 1/99 "often means the request was too heavy"; 413 is a proxy's way to say so.
    return (error.code == 1 and error.subcode == 99) or error.http_status == 413


def _blamed_positions(error: GraphError, size: int) -> set[int]:
    positions: set[int] = set()
    for spec in error.blame_field_specs:
        if len(spec) >= 2 and spec[0] == "data" and spec[1].isdigit():
            positions.add(int(spec[1]))
        elif spec and (match := _BLAMED_INDEX.match(spec[0])):
            positions.add(int(match.group(1)))
    return {p for p in positions if p < size}


def _reason(error: GraphError) -> str:
    detail = ": ".join(part for part in (error.user_title, error.user_msg) if part)
    return f"{error.code_label}: {detail or error.message}"
