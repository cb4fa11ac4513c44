"""Server events the validation tests start from: valid ones, changed by keyword."""

from typing import Any

from source_meta_capi.capi.event_validation import EventRejection

NOW = 1764150000
DAY = 24 * 3600
EXTINFO = ["a2", "com.example", "1", "1.0", "14", "Pixel", "en_US", "UTC",
           "", "1080", "1920", "2.0", "8", "128", "64", "Europe/Berlin"]  # fmt: skip


def web_event(**overrides: Any) -> dict[str, Any]:
    """A valid website Purchase; an override of None removes the field."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "event_id": "order-10023",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thank-you",
        "user_data": {"em": "joe@example.com", "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "USD", "value": 123.45},
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def app_event(**overrides: Any) -> dict[str, Any]:
    """A valid app AddToCart with app_data and extinfo."""
    event = web_event(
        action_source="app",
        event_source_url=None,
        event_name="AddToCart",
        custom_data=None,
        user_data={"madid": "38400000-8cf0-11bd-b23e-10b96e40000d"},
        app_data={
            "advertiser_tracking_enabled": True,
            "application_tracking_enabled": 1,
            "extinfo": EXTINFO,
        },
    )
    event.update(overrides)
    return event


def fields(rejections: list[EventRejection]) -> list[str]:
    """The fields the rejections name, in order."""
    return [rejection.field for rejection in rejections]
