"""The Graph API's vocabulary, defined once: where it lives, which version we speak, what its
ids look like and how to read them off a request URL (fact sheet §1.1, §1.4). Everything that
builds or checks a Graph URL, a pixel id or an API version imports it from here."""

from __future__ import annotations

import re
from typing import Final, Optional, TypeGuard
from urllib.parse import parse_qsl, urlsplit

DEFAULT_GRAPH_BASE_URL: Final[str] = "https://graph.facebook.com"
# §1.4: the newest Graph version, the one Meta's business SDK 26.0.3 pins.
DEFAULT_API_VERSION: Final[str] = "v26.0"
API_VERSION_PATTERN: Final[re.Pattern[str]] = re.compile(r"v[0-9]{1,3}\.[0-9]{1,2}")

# Pixel (dataset) ids are numeric Graph ids, 15-16 digits today. 20 digits leave room for
# growth while keeping the id safe as a key segment (staging/keys.py) and a URL path segment.
PIXEL_ID_MAX_DIGITS: Final[int] = 20
# Graph ids never start with 0: `01` and `1` would otherwise be two pixels (two key prefixes)
# for one Meta pixel.
PIXEL_ID_PATTERN: Final[re.Pattern[str]] = re.compile(rf"[1-9][0-9]{{0,{PIXEL_ID_MAX_DIGITS - 1}}}")
PIXEL_ID_RULE: Final[str] = f"1-{PIXEL_ID_MAX_DIGITS} digits, not starting with 0"
# Ad accounts: `act_` + the numeric id; ads_insights rows carry the id without the prefix.
AD_ACCOUNT_ID_PATTERN: Final[re.Pattern[str]] = re.compile(rf"(act_)?[0-9]{{1,{PIXEL_ID_MAX_DIGITS}}}")


def is_pixel_id(value: object) -> TypeGuard[str]:
    """Whether `value` is a pixel id string (ASCII digits only, never a path trick)."""
    return isinstance(value, str) and PIXEL_ID_PATTERN.fullmatch(value) is not None


def pixel_id_of_url(url: Optional[str]) -> str:
    """The pixel a Graph request was for: ``dataset_id`` in the query, else the first numeric
    path segment (``/{ver}/{pixel_id}`` and ``/{ver}/{pixel_id}/stats``); for messages."""
    if not url:
        return "(unknown)"
    parts = urlsplit(url)
    for key, value in parse_qsl(parts.query):
        if key == "dataset_id" and value.isdigit():
            return value
    for segment in parts.path.split("/"):
        if segment.isdigit():
            return segment
    return "(unknown)"


def url_origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with default ports filled in, so equal hosts compare equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default_port = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default_port
