"""The user_data keys Meta takes as sent: IP, user agent, fbc, fbp and the other IDs (§3.1, §3.2).

The seam with user_data_normalization.py: these are never normalized or hashed, only trimmed
and checked, and the one with rules of its own is the client IP (proxy lists, ports, brackets,
Parameter Builder appendices). pseudonymize keys the same values, hence `is_plain_identifier`.
"""

import ipaddress
import re
from typing import Any


def is_plain_identifier(value: Any) -> bool:
    """A non-empty string or an integer (not a bool)."""
    # fb_login_id and lead_id are integers in Meta's docs (§3.1); bool is an int in Python.
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and value != "") or isinstance(value, int)


def plain_identifier(key: str, value: Any) -> tuple[Any, str | None]:
    """(identifier to forward, None), or (None, why it was dropped; None when it was null)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        # Surrounding whitespace is transport noise; inner text (fbc's case-sensitive fbclid,
        # Parameter Builder appendices) is sent exactly as received (§3.1, §3.2).
        text = value.strip()
        if not text:
            return None, "dropped: empty value"
        if key == "client_ip_address":
            address = _client_ip(text)
            return (address, None) if address else (None, "dropped: not an IP address")
        return text, None
    if is_plain_identifier(value):
        return value, None
    return None, "dropped: expected a non-empty string or integer"


# Meta's Parameter Builder appends `.` and an 8-character appendix to values it produces (§3.1).
_APPENDIX = re.compile(r"\.[A-Za-z0-9_-]{8}")


# A canonical dotted quad, what ipaddress would print back for it: ~0.3 µs instead of ~4.
_CANONICAL_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def _client_ip(text: str) -> str | None:
    """The client's address from an IP field: the first of a proxy list (X-Forwarded-For order),
    without brackets, an IPv4 port or spaces; None when no address is there (§3.1: "no spaces")."""
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    first = text.split(",", 1)[0].strip()
    if first.startswith("[") and "]" in first:
        first = first[1 : first.index("]")]
    elif first.count(":") == 1:
        first = first.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        pass
    head, dot, appendix = first.rpartition(".")
    if dot and _APPENDIX.fullmatch(dot + appendix) and not appendix.isdigit():
        try:
            ipaddress.ip_address(head)
        except ValueError:
            return None
        return first
    return None
