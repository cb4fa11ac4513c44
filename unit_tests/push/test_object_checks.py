"""check_object: one staged object's lines checked, deduplicated and completed, findings in line order."""

from __future__ import annotations

import gzip
import json
from typing import Any

from source_meta_capi.push.object_checks import ObjectScope, check_object
from source_meta_capi.push.record_checks import DriftFinding, RecordTypeChecker
from source_meta_capi.push.streams import load_schema
from source_meta_capi.staging.identity_filter import IdentityFilter
from source_meta_capi.staging.store import CorruptObjectError

PIXEL = "1234567890"
KEY = f"events/pixel_id={PIXEL}/date=2026-11-26/hour=10/20261126T100000000000Z-w-0000000000000000.jsonl.gz"


def _event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "pixel_id": PIXEL,
        "event_id": event_id,
        "event_time": 1_764_000_000,
        "event_name": "Purchase",
        "action_source": "website",
        "user_data": {"em": ["a" * 64]},
        "received_at": "2026-11-26T10:00:00.000000Z",
        **fields,
    }


def _object(*lines: Any) -> bytes:
    return gzip.compress(b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines) + b"\n")


def _scope(**overrides: Any) -> ObjectScope:
    values: dict[str, Any] = {
        "stream": "delivered_events",
        "is_events": True,
        "pixel_id": PIXEL,
        "ad_account_id": "act_7",
        "event_types": frozenset(),
        "key": KEY,
    }
    values.update(overrides)
    return ObjectScope(**values)


CHECKER = RecordTypeChecker(load_schema("delivered_events"))


def test_good_records_get_the_source_fields_and_repeats_are_dropped_across_objects():
    identities = IdentityFilter()
    first = check_object(_scope(), _object(_event("a"), _event("b"), _event("a")), CHECKER, identities)
    assert [r["event_id"] for r in first.records] == ["a", "b"]
    assert first.repeats_dropped == 1 and first.findings == [] and first.readable
    assert all(r["ad_account_id"] == "act_7" and r["_staged_object"] == KEY for r in first.records)
    second = check_object(_scope(), _object(_event("b"), _event("c")), CHECKER, identities)
    assert [r["event_id"] for r in second.records] == ["c"] and second.repeats_dropped == 1


def test_an_ad_account_on_the_record_wins_over_the_configured_one():
    checked = check_object(_scope(), _object(_event("a", ad_account_id="act_1")), CHECKER, IdentityFilter())
    assert checked.records[0]["ad_account_id"] == "act_1"


def test_findings_come_in_line_order_and_bad_lines_are_not_emitted():
    body = _object(
        _event("a"),
        b"{broken",
        _event("b", pixel_id="999"),
        _event("c", event_time="yesterday"),
        _event("d", action_source=None),
        _event("e"),
    )
    checked = check_object(_scope(), body, CHECKER, IdentityFilter())
    assert [r["event_id"] for r in checked.records] == ["a", "d", "e"]
    kinds = [(type(f).__name__, getattr(f, "line", None)) for f in checked.findings]
    assert kinds == [
        ("CorruptObjectError", 2),
        ("CorruptObjectError", 3),
        ("CorruptObjectError", 4),
        ("DriftFinding", None),
    ]
    corrupt = checked.findings[2]
    assert isinstance(corrupt, CorruptObjectError) and "field event_time has JSON type str" in corrupt.reason
    assert corrupt.key == KEY and corrupt.line == 4
    drift = checked.findings[3]
    assert isinstance(drift, DriftFinding) and drift.event_id == "d" and drift.missing == ("action_source",)


def test_event_type_filter_counts_what_it_drops():
    checked = check_object(
        _scope(event_types=frozenset({"Lead"})), _object(_event("a"), _event("b", event_name="Lead")), CHECKER, None
    )
    assert [r["event_id"] for r in checked.records] == ["b"] and checked.filtered_by_event_type == 1


def test_an_unreadable_object_is_one_finding_and_nothing_else():
    checked = check_object(_scope(), b"not gzip", CHECKER, IdentityFilter())
    assert not checked.readable and checked.records == []
    assert len(checked.findings) == 1 and "not a valid gzip stream" in checked.findings[0].reason  # type: ignore[union-attr]
