from source_meta_capi.capi.event_fields import MATCH_KEYS
from source_meta_capi.push.record_checks import RecordTypeChecker, attribution_drift
from source_meta_capi.push.streams import load_schema

GOOD = {
    "pixel_id": "1",
    "event_id": "e",
    "event_time": 1,
    "event_name": "Purchase",
    "action_source": "website",
    "user_data": {"em": ["a" * 64]},
    "received_at": "2026-11-26T00:00:00.000000Z",
}


def test_type_checker_follows_the_stream_schema_and_never_quotes_values():
    checker = RecordTypeChecker(load_schema("delivered_events"))
    assert checker.problem(GOOD) is None
    assert (
        checker.problem({**GOOD, "event_time": "secret@example.com"})
        == "field event_time has JSON type str, expected int"
    )
    assert checker.problem({**GOOD, "event_time": True}) == "field event_time is a boolean"
    assert checker.problem({**GOOD, "custom_field_unknown": object()}) is None
    assert checker.problem({**GOOD, "pixel_id": None}) == "field pixel_id is null"


def test_drift_lists_every_missing_attribution_field():
    assert attribution_drift(GOOD) is None
    finding = attribution_drift({**GOOD, "event_id": None, "action_source": "", "user_data": {"em": []}})
    assert finding is not None
    assert finding.missing == ("event_id", "action_source", "user_data match keys")
    assert attribution_drift({**GOOD, "user_data": {"client_ip_address": "2001:db8::1"}}) is None


def test_given_only_a_whatsapp_business_account_id_when_checked_then_no_drift():
    # The receiver accepts an event matched by this key alone; the source must not call it drift
    # (under on_schema_drift: fail that failed the sync).
    event = {**GOOD, "user_data": {"whatsapp_business_account_id": "1234567890"}}
    assert attribution_drift(event) is None


def test_every_match_key_the_receiver_knows_is_one_the_drift_alarm_accepts():
    for key in sorted(MATCH_KEYS):
        assert attribution_drift({**GOOD, "user_data": {key: "x"}}) is None, key
