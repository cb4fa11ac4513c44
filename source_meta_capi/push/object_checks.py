"""The checks one staged object goes through before its records are emitted.

Pure (no airbyte_cdk): the same function runs on the connector's worker threads and in the
record decoder processes (`decoder_pool.py`), so both paths accept, drop and report
exactly the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Optional

from source_meta_capi.push.record_checks import DriftFinding, RecordTypeChecker, attribution_drift, unhashed_user_data
from source_meta_capi.staging.identity_filter import IdentityFilter
from source_meta_capi.staging.records import decode_lines, object_lines
from source_meta_capi.staging.store import CorruptObjectError


@dataclass(frozen=True)
class ObjectScope:
    """Where an object belongs: what its records must match and what the source adds to them."""

    stream: str
    is_events: bool
    pixel_id: str
    ad_account_id: Optional[str]
    event_types: frozenset[str]
    key: str


# A problem found in an object, in line order: corrupt data or an event lacking attribution fields.
Finding = CorruptObjectError | DriftFinding


@dataclass
class CheckedObject:
    """An object's accepted records (identity repeats dropped, source fields added) and its findings."""

    records: list[dict[str, Any]] = field(default_factory=list)
    # The staged line each record was parsed from (same order as records).
    lines: list[bytes] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    filtered_by_event_type: int = 0
    repeats_dropped: int = 0
    # False when the whole object could not be decoded (bad gzip): nothing from it was read.
    readable: bool = True


def check_object(
    scope: ObjectScope, data: bytes, checker: RecordTypeChecker, identities: Optional[IdentityFilter]
) -> CheckedObject:
    """Decode one staged object and check every line; never raises for bad data (it is a finding).

    The caller replays `findings` in order (counting them, and failing the sync on the first one
    when the policy says so) before it emits `records`, so a failing object emits nothing.
    """
    checked = CheckedObject()
    findings = checked.findings
    pixel_id, key = scope.pixel_id, scope.key
    try:
        raw_lines = object_lines(key, data)
    except CorruptObjectError as error:
        findings.append(error)
        checked.readable = False
        return checked
    problem_of = checker.problem
    event_types = scope.event_types
    accepted = checked.records
    accepted_lines = checked.lines
    for line in decode_lines(key, raw_lines):
        record = line.record
        if record is None:
            assert line.error is not None
            findings.append(line.error)
            continue
        get = record.get
        if get("pixel_id") != pixel_id:
            findings.append(CorruptObjectError(key, "pixel_id does not match the object's key", line.line))
            continue
        problem = problem_of(record)
        if problem is not None:
            findings.append(CorruptObjectError(key, f"record fails the {scope.stream} schema: {problem}", line.line))
            continue
        if scope.is_events:
            unhashed = unhashed_user_data(record)
            if unhashed is not None:
                findings.append(
                    CorruptObjectError(key, f"user_data.{unhashed[:64]} is not a SHA-256 or HMAC hex hash", line.line)
                )
                continue
            if event_types and get("event_name") not in event_types:
                checked.filtered_by_event_type += 1
                continue
            drift = attribution_drift(record)
            if drift is not None:
                findings.append(drift)
        accepted.append(record)
        accepted_lines.append(raw_lines[line.line - 1])
    if scope.is_events and accepted and identities is not None:
        # Repeats are dropped per object, in line order: one batch for the identity filter.
        fresh = identities.first_times(pixel_id, [(r.get("event_id"), r.get("event_time")) for r in accepted])
        repeats = fresh.count(False)
        if repeats:
            checked.repeats_dropped = repeats
            checked.records = accepted = list(compress(accepted, fresh))
            checked.lines = list(compress(accepted_lines, fresh))
    ad_account = scope.ad_account_id
    for record in accepted:
        if ad_account and not record.get("ad_account_id"):
            record["ad_account_id"] = ad_account
        record["_staged_object"] = key
    return checked
