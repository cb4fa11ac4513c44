"""user_data's value types and match keys (§3.1): capi/user_data_validation.py, through validate_event."""

from typing import Any

import pytest

from source_meta_capi.capi.event_validation import validate_event
from source_meta_capi.capi.user_data_validation import check_user_data
from unit_tests.capi.validation_events import NOW, fields, web_event


def test_user_data_must_carry_a_match_key() -> None:
    event = web_event(action_source="email", event_source_url=None,
                      user_data={"em": "", "ph": []})  # fmt: skip
    assert fields(validate_event(event, NOW)) == ["user_data"]


@pytest.mark.parametrize(
    ("user_data", "field"),
    [
        ({"em": {"address": "a@b.co"}, "fbp": "fb.1.2.3"}, "user_data.em"),
        ({"em": ["a@b.co", 1.5], "fbp": "fb.1.2.3"}, "user_data.em"),
        ({"em": "a@b.co", "fbp": ["fb.1.2.3"]}, "user_data.fbp"),
    ],
)
def test_user_data_value_types(user_data: dict[str, Any], field: str) -> None:
    event = web_event(action_source="email", event_source_url=None, user_data=user_data)
    assert fields(validate_event(event, NOW)) == [field]


def test_given_user_data_alone_when_checked_then_rejections_come_hashed_keys_first_then_plain_each_sorted() -> None:
    reported: list[tuple[str, str]] = []
    check_user_data({"fbp": 1.5, "ph": {}, "em": True, "client_user_agent": []}, lambda *r: reported.append(r))
    assert [field for field, _ in reported] == [
        "user_data.em",
        "user_data.ph",
        "user_data.client_user_agent",
        "user_data.fbp",
        "user_data",
    ]
