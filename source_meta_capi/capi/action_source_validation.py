"""What an event needs beyond the common fields because of its action_source (fact sheet §2.1-§2.3).

A website event needs its page URL and the browser's user agent, an app event an app_data
object with the device's extinfo, a business_messaging event its channel. These rules depend on
one field's value and reach across the event (the envelope, user_data, app_data), so they are
kept together, apart from the checks that hold for every event. Whether action_source is one of
Meta's values at all is the envelope's check (event_validation.py).
"""

from collections.abc import Mapping
from typing import Any

from source_meta_capi.capi.event_fields import (
    APP_DATA_REQUIRED_FIELDS,
    EXTINFO_LENGTH,
    EXTINFO_OS_VERSION_SLOT,
    EXTINFO_VERSIONS,
)
from source_meta_capi.capi.value_checks import Reject, is_mapping, is_non_empty_string, is_number


def check_action_source_requirements(event: Mapping[str, Any], reject: Reject) -> None:
    """The fields the event's action_source requires: website, app and business_messaging have some."""
    action_source = event.get("action_source")
    user_data = event.get("user_data")
    if action_source == "website":
        # §2.2 [D M5]: website events need the page URL and the browser's user agent.
        url = event.get("event_source_url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            reject(
                "event_source_url",
                "website events need an event_source_url starting with http:// or https://",
            )
        if is_mapping(user_data) and not is_non_empty_string(user_data.get("client_user_agent")):
            reject(
                "user_data.client_user_agent",
                "website events need user_data.client_user_agent",
            )
    elif action_source == "app":
        _check_app_data(event.get("app_data"), reject)
    # §2.1: only `whatsapp` is a confirmed literal, so any non-empty channel passes.
    elif action_source == "business_messaging" and not is_non_empty_string(event.get("messaging_channel")):
        reject("messaging_channel", "business_messaging events need a messaging_channel")


def _check_app_data(app_data: Any, reject: Reject) -> None:
    if not is_mapping(app_data):
        reject("app_data", "app events need an app_data object")
        return
    for name in APP_DATA_REQUIRED_FIELDS:
        if name not in app_data:
            reject(f"app_data.{name}", f"app events need app_data.{name}")
    for name in ("advertiser_tracking_enabled", "application_tracking_enabled"):
        # Segment sends 1/0 for these booleans (§2.3), so both spellings pass.
        if name in app_data and app_data[name] not in (True, False, 0, 1):
            reject(f"app_data.{name}", f"app_data.{name} must be a boolean")
    extinfo = app_data.get("extinfo")
    if "extinfo" not in app_data:
        return
    if not (
        isinstance(extinfo, list)
        and len(extinfo) == EXTINFO_LENGTH
        and all(isinstance(slot, str) or is_number(slot) for slot in extinfo)
    ):
        reject(
            "app_data.extinfo",
            f"app_data.extinfo must be an array of {EXTINFO_LENGTH} strings ('' when unknown)",
        )
        return
    # §2.3: slot 0 is the platform (`a2` Android, `i2` iOS), slot 4 the required OS version.
    if extinfo[0] not in EXTINFO_VERSIONS:
        reject("app_data.extinfo", "app_data.extinfo[0] must be 'a2' (Android) or 'i2' (iOS)")
    os_version = extinfo[EXTINFO_OS_VERSION_SLOT]
    if not (is_non_empty_string(os_version) or is_number(os_version)):
        reject("app_data.extinfo", f"app_data.extinfo[{EXTINFO_OS_VERSION_SLOT}] (OS version) is required")
