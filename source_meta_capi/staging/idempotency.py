"""Idempotent acceptance: a retried request (same webhook-id or body digest) is answered with the
original result and never staged twice.

Protocol (all state in the store, so it holds across processes and Lambdas):
1. `lookup`: read the claims of the key. If a claim's object exists, the request was accepted:
   replay its stored response. If the newest claim is younger than the commit deadline (plus a
   margin for clock skew), the original is still in flight: tell the caller to retry later.
   Otherwise every earlier attempt was abandoned (the writer gives up at its deadline), so the
   next attempt number is free.
2. `claim`: a conditional put of `<attempt>.json` naming the planned object's stem. Losing the
   put means a concurrent duplicate won: the loser must not stage.
3. The caller commits the object, then answers.
A crash between 2 and 3 leaves a claim without an object; a retry after the deadline re-claims.
Writers may also claim attempt 1 first and call `lookup` only when that claim is lost: the
outcome is the same, and a first delivery then costs one conditional put and no listing.

`claim_many` claims for several requests that will share one object (a group commit) in one
store call: on a store that groups puts (`GroupPutStore`) the claims are made durable together,
before the call returns and so before the object is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Callable, Mapping, Optional, Sequence

import orjson

from source_meta_capi.staging.keys import validate_pixel_id
from source_meta_capi.staging.records import iso_utc, parse_iso_utc
from source_meta_capi.staging.store import (
    CorruptObjectError,
    GroupPutStore,
    ObjectNotFoundError,
    ObjectStore,
    StoreError,
)

IDEMPOTENCY_AREA = "idempotency"


class LedgerOutcome(StrEnum):
    """What to do with a request after looking up its idempotency key."""

    NEW = "new"
    REPLAY = "replay"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class LedgerLookup:
    """The result of `lookup`: a fresh attempt number, a response to replay, or a wait."""

    outcome: LedgerOutcome
    next_attempt: int = 1
    response: Optional[Mapping[str, Any]] = None
    retry_after_s: int = 0


@dataclass(frozen=True)
class ClaimRequest:
    """One request's claim in `claim_many`: its key, the attempt it claims, its answer to replay."""

    idempotency_key: str
    attempt: int
    response: Mapping[str, Any]


def idempotency_digest(idempotency_key: str) -> str:
    """Keys come from callers (webhook-id): hash them so any string is a safe path segment."""
    return hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class IdempotencyLedger:
    """Claims and replays of accepted requests, keyed per pixel."""

    def __init__(
        self,
        store: ObjectStore,
        commit_deadline_s: float,
        clock_skew_margin_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._store = store
        self._group_store = store if isinstance(store, GroupPutStore) else None
        self._in_flight_window = timedelta(seconds=commit_deadline_s + clock_skew_margin_s)
        self._clock = clock

    def _prefix(self, pixel_id: str, idempotency_key: str) -> str:
        return f"{IDEMPOTENCY_AREA}/pixel_id={validate_pixel_id(pixel_id)}/{idempotency_digest(idempotency_key)}/"

    def lookup(self, pixel_id: str, idempotency_key: str) -> LedgerLookup:
        prefix = self._prefix(pixel_id, idempotency_key)
        claims = list(self._store.list_keys(prefix))
        if not claims:
            return LedgerLookup(LedgerOutcome.NEW, next_attempt=1)
        newest: Optional[Mapping[str, Any]] = None
        for key in claims:
            try:
                claim = orjson.loads(self._store.get(key))
            except (ObjectNotFoundError, CorruptObjectError, orjson.JSONDecodeError):
                # Unreadable: torn by a power loss before its group was synced, so it never had
                # an object; the attempt counts as abandoned.
                continue
            if next(iter(self._store.list_keys(claim["object_stem"])), None) is not None:
                return LedgerLookup(LedgerOutcome.REPLAY, response=claim["response"])
            newest = claim
        attempt = _attempt_of(claims[-1]) + 1
        if newest is not None:
            age = self._clock() - parse_iso_utc(newest["claimed_at"])
            if age < self._in_flight_window:
                wait = int((self._in_flight_window - age).total_seconds()) + 1
                return LedgerLookup(LedgerOutcome.IN_PROGRESS, next_attempt=attempt, retry_after_s=wait)
        return LedgerLookup(LedgerOutcome.NEW, next_attempt=attempt)

    def claim(
        self, pixel_id: str, idempotency_key: str, attempt: int, object_stem: str, response: Mapping[str, Any]
    ) -> bool:
        """Claim `attempt` for this key; False if a concurrent duplicate claimed it first."""
        key, body = self._claim_item(pixel_id, idempotency_key, attempt, object_stem, iso_utc(self._clock()), response)
        return self._store.put_if_absent(key, body)

    @property
    def claims_in_groups(self) -> bool:
        """Whether `claim_many` makes a group's claims durable in one store call."""
        return self._group_store is not None

    def claim_many(self, pixel_id: str, claims: Sequence[ClaimRequest], object_stem: str) -> list[bool | StoreError]:
        """`claim` for each request of a group sharing `object_stem`, one result per claim, in order.

        True: claimed (and durable); False: a concurrent duplicate claimed it first; a StoreError:
        that claim failed. Raises StoreError when the group could not be made durable.
        """
        claimed_at = iso_utc(self._clock())
        items = [
            self._claim_item(pixel_id, c.idempotency_key, c.attempt, object_stem, claimed_at, c.response)
            for c in claims
        ]
        if self._group_store is not None:
            return self._group_store.put_many_if_absent(items)
        results: list[bool | StoreError] = []
        for key, body in items:
            try:
                results.append(self._store.put_if_absent(key, body))
            except StoreError as error:
                results.append(error)
        return results

    def _claim_item(
        self,
        pixel_id: str,
        idempotency_key: str,
        attempt: int,
        object_stem: str,
        claimed_at: str,
        response: Mapping[str, Any],
    ) -> tuple[str, bytes]:
        body = orjson.dumps(
            {"object_stem": object_stem, "claimed_at": claimed_at, "attempt": attempt, "response": response}
        )
        return f"{self._prefix(pixel_id, idempotency_key)}{attempt:06d}.json", body


def _attempt_of(key: str) -> int:
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return int(name) if name.isdigit() else 0
