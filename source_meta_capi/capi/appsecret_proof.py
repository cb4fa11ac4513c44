"""``appsecret_proof``: an HMAC of the access token keyed by the app secret (fact sheet §7.4).

Apps with "Require App Secret" enabled reject every call without it. Meta documents two
forms; both are hex HMAC-SHA256 with the app secret as key:

- classic: over the access token alone (what the Python SDK 26.0.3 sends);
- time-stamped: over ``access_token + "|" + unix_time``, sent with ``appsecret_time``; it
  expires after 5 minutes, so compute one per call.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["APPSECRET_TIME_MAX_AGE_SECONDS", "PROOF_PARAMS", "appsecret_proof", "appsecret_proof_timed", "proof_params"]

APPSECRET_TIME_MAX_AGE_SECONDS = 300
"""How long Meta accepts a time-stamped proof (§7.4)."""

PROOF_PARAMS = frozenset({"appsecret_proof", "appsecret_time"})
"""The query parameters a proof travels in."""


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """The classic proof: ``hex(HMAC_SHA256(key=app_secret, msg=access_token))``."""
    _require("app_secret", app_secret)
    _require("access_token", access_token)
    return _hmac_hex(app_secret, access_token)


def appsecret_proof_timed(app_secret: str, access_token: str, unix_time: int) -> tuple[str, int]:
    """The time-stamped proof and the ``appsecret_time`` to send with it.

    ``unix_time`` is injected (whole seconds) so callers and tests control the clock; Meta
    requires an integer, so a float or bool is refused rather than silently truncated.
    """
    _require("app_secret", app_secret)
    _require("access_token", access_token)
    if isinstance(unix_time, bool) or not isinstance(unix_time, int) or unix_time < 0:
        raise ValueError(f"unix_time must be a non-negative integer, got {unix_time!r}")
    return _hmac_hex(app_secret, f"{access_token}|{unix_time}"), unix_time


def proof_params(app_secret: str, access_token: str, unix_time: int | None) -> dict[str, str]:
    """Query parameters carrying ``appsecret_proof``: time-stamped if ``unix_time`` is given."""
    if unix_time is None:
        return {"appsecret_proof": appsecret_proof(app_secret, access_token)}
    proof, at = appsecret_proof_timed(app_secret, access_token, unix_time)
    return {"appsecret_proof": proof, "appsecret_time": str(at)}


def _hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _require(name: str, value: str) -> None:
    # The message names the parameter, never its value: both are secrets.
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
