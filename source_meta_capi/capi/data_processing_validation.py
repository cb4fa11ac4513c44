"""Validation of an event's data processing options: Limited Data Use (fact sheet §10.1).

LDU is a privacy flag, not event data: it has its own three top-level fields and its own codes (a
country, and a state needed only when the event carries no IP address, which is the one thing it
reads from user_data). It is checked here, apart from the envelope (event_validation.py), so its
rules read as one piece next to the fact sheet's section.
"""

from collections.abc import Mapping
from typing import Any

from source_meta_capi.capi.event_fields import LDU_COUNTRY_CODES, LDU_OPTION, LDU_STATE_CODES
from source_meta_capi.capi.value_checks import INTEGER_STRING, Reject, has_value, is_mapping, is_one_of


def check_data_processing_options(event: Mapping[str, Any], reject: Reject) -> None:
    """data_processing_options holds only `LDU`; with it, the country and (without an IP) state codes."""
    options = event.get("data_processing_options")
    if options is None:
        return
    if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
        reject(
            "data_processing_options",
            "data_processing_options must be an array of strings",
        )
        return
    # §10.1: `LDU` is the only option Meta defines; anything else is a sender bug.
    if any(option != LDU_OPTION for option in options):
        reject("data_processing_options", f"data_processing_options may only hold {LDU_OPTION!r}")
        return
    if LDU_OPTION not in options:
        return
    # §10.1: LDU needs a country (1 = USA, 0 = geolocate); a state is needed without an IP.
    country = _code(event.get("data_processing_options_country"))
    if isinstance(country, bool) or not is_one_of(country, LDU_COUNTRY_CODES):
        reject(
            "data_processing_options_country",
            "LDU needs data_processing_options_country 1 (USA) or 0 (geolocate)",
        )
    state = _code(event.get("data_processing_options_state"))
    user_data = event.get("user_data")
    has_ip = is_mapping(user_data) and has_value(user_data.get("client_ip_address"))
    if state is None:
        if not has_ip:
            reject(
                "data_processing_options_state",
                "LDU without client_ip_address needs data_processing_options_state",
            )
    elif isinstance(state, bool) or not is_one_of(state, LDU_STATE_CODES):
        reject(
            "data_processing_options_state",
            "data_processing_options_state must be 0 or a documented state code (1000-1013)",
        )


def _code(value: Any) -> Any:
    """An LDU country or state code; digit strings (`"1000"`) read as the integer they spell."""
    if isinstance(value, str) and INTEGER_STRING.fullmatch(value):
        return int(value)
    return value
