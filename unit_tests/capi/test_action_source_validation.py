"""What website, app and business_messaging events need besides the common fields (§2.1-§2.3):
capi/action_source_validation.py, through validate_event."""

from typing import Any

import pytest

from source_meta_capi.capi.action_source_validation import check_action_source_requirements
from source_meta_capi.capi.event_validation import validate_event
from unit_tests.capi.validation_events import EXTINFO, NOW, app_event, fields, web_event


@pytest.mark.parametrize(
    "action_source",
    ["email", "phone_call", "chat", "physical_store", "system_generated", "other"],
)
def test_non_web_sources_need_no_url_or_user_agent(action_source: str) -> None:
    event = web_event(action_source=action_source, event_source_url=None,
                      user_data={"em": "joe@example.com"})  # fmt: skip
    assert validate_event(event, NOW) == []


def test_website_events_need_url_and_user_agent() -> None:
    event = web_event(event_source_url="shop.example.com/x", user_data={"em": "a@b.co"})
    assert fields(validate_event(event, NOW)) == [
        "event_source_url",
        "user_data.client_user_agent",
    ]
    assert "event_source_url" in fields(validate_event(web_event(event_source_url=None), NOW))
    assert validate_event(web_event(event_source_url="HTTP://shop.example.com"), NOW) == []


def test_valid_app_event() -> None:
    assert validate_event(app_event(), NOW) == []


def test_app_events_need_app_data() -> None:
    event = app_event()
    del event["app_data"]
    assert fields(validate_event(event, NOW)) == ["app_data"]


@pytest.mark.parametrize(
    ("app_data", "expected"),
    [
        ({"application_tracking_enabled": True, "extinfo": EXTINFO},
         ["app_data.advertiser_tracking_enabled"]),
        ({"advertiser_tracking_enabled": "yes", "application_tracking_enabled": True,
          "extinfo": EXTINFO}, ["app_data.advertiser_tracking_enabled"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False},
         ["app_data.extinfo"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False,
          "extinfo": EXTINFO[:15]}, ["app_data.extinfo"]),
        ({"advertiser_tracking_enabled": 0, "application_tracking_enabled": False,
          "extinfo": [*EXTINFO[:15], None]}, ["app_data.extinfo"]),
    ],
)  # fmt: skip
def test_app_data_shape(app_data: dict[str, Any], expected: list[str]) -> None:
    assert fields(validate_event(app_event(app_data=app_data), NOW)) == expected


def test_business_messaging_needs_messaging_channel() -> None:
    event = web_event(action_source="business_messaging", event_source_url=None,
                      event_name="Lead", user_data={"ctwa_clid": "abc"})  # fmt: skip
    assert fields(validate_event(event, NOW)) == ["messaging_channel"]
    event["messaging_channel"] = "whatsapp"
    assert validate_event(event, NOW) == []


@pytest.mark.parametrize("os_version", ["", None, []])
def test_given_app_data_without_an_os_version_when_checked_then_extinfo_rejected(os_version: Any) -> None:
    reported: list[tuple[str, str]] = []
    extinfo = [*EXTINFO]
    extinfo[4] = os_version
    event = {"action_source": "app", "app_data": {"advertiser_tracking_enabled": 1,
             "application_tracking_enabled": 0, "extinfo": extinfo}}  # fmt: skip
    check_action_source_requirements(event, lambda *r: reported.append(r))
    assert [field for field, _ in reported] == ["app_data.extinfo"]


def test_given_an_action_source_without_requirements_when_checked_then_nothing_reported() -> None:
    reported: list[tuple[str, str]] = []
    check_action_source_requirements({"action_source": "email", "user_data": "x"}, lambda *r: reported.append(r))
    assert reported == []
