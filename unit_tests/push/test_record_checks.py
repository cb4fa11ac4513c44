import pytest

from source_meta_capi.capi.event_fields import MATCH_KEYS
from source_meta_capi.push.record_checks import RecordTypeChecker, attribution_drift, unhashed_user_data
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


@pytest.mark.parametrize(
    ("user_data", "expected"),
    [
        ({"em": ["a" * 64], "ph": "b" * 64, "client_ip_address": "1.2.3.4"}, None),
        ({"em": ["a" * 64, "A" * 64]}, "em"),
        ({"ct": ["a" * 64], "em": ["a" * 63]}, "em"),
        ({"em": ["a" * 64 + "\n" + "b" * 64]}, "em"),  # two hashes in one value
        ({"em": ["a" * 64 + "\n"]}, "em"),
        ({"em": [7]}, "em"),
        ({"em": [None]}, "em"),
        ({"em": []}, None),
        ({"secret_field": "x"}, "secret_field"),
    ],
)
def test_unhashed_user_data_names_the_first_key_whose_value_is_not_a_hash(user_data: dict, expected: object) -> None:
    assert unhashed_user_data({**GOOD, "user_data": user_data}) == expected


def test_with_pseudonymization_every_value_must_be_a_hash() -> None:
    record = {**GOOD, "user_data_pseudonymized": True, "user_data": {"client_ip_address": "1.2.3.4"}}
    assert unhashed_user_data(record) == "client_ip_address"
    assert unhashed_user_data({**record, "user_data": {"client_ip_address": "c" * 64}}) is None
