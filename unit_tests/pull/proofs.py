"""Expected appsecret_proof values, computed independently of the code under test."""

from __future__ import annotations

import hashlib
import hmac

from .config import ACCESS_TOKEN, APP_SECRET, PROOF_TIME


def classic_proof() -> str:
    return hmac.new(APP_SECRET.encode(), ACCESS_TOKEN.encode(), hashlib.sha256).hexdigest()


def timed_proof() -> str:
    return hmac.new(APP_SECRET.encode(), f"{ACCESS_TOKEN}|{PROOF_TIME}".encode(), hashlib.sha256).hexdigest()
