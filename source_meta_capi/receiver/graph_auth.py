"""Authentication of the Graph intake: the caller proves itself as it would to Meta (§7).

No new secret on the sender side: the access token must be the one configured for the pixel
(`META_CAPI_ACCESS_TOKENS`), and when an app secret is configured (`META_CAPI_APP_SECRET`) the
`appsecret_proof` must verify, classic or time-stamped (§7.4). Failures are Meta's errors, so
Meta's SDKs raise what they would raise against Meta:

| failure | HTTP | code / subcode | type |
| --- | --- | --- | --- |
| no token | 400 | 104 | OAuthException |
| token configured for no pixel | 400 | 190 | OAuthException |
| proof missing, wrong or expired (checked next: it belongs to the token) | 400 | 100 | GraphMethodException |
| token of another pixel (cannot reach this one) | 400 | 100 / 33 | GraphMethodException |

(Meta answers a wrong `appsecret_proof` with code 100, not 190: "Invalid appsecret_proof provided
in the API argument", GraphMethodException, as reported in facebook-python-business-sdk issue
#528 and other SDKs' issues; our Graph stand-in does the same.)

Every token comparison is constant-time and runs over all configured tokens, so the answer's
timing tells nothing about which pixel a token belongs to.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Final, Optional

from source_meta_capi.capi.appsecret_proof import APPSECRET_TIME_MAX_AGE_SECONDS, appsecret_proof, appsecret_proof_timed
from source_meta_capi.receiver.graph_requests import (
    INVALID_TOKEN,
    METHOD_EXCEPTION,
    TOKEN_REQUIRED,
    GraphCredentials,
    GraphError,
    object_not_found,
)

ACCESS_TOKEN: Final = "access_token"
ACCESS_TOKEN_AND_PROOF: Final = "access_token+appsecret_proof"
# The `reason` of every GraphError `authenticate` raises (logs: signature_status "failed").
AUTHENTICATION_REASONS: Final = frozenset(
    {
        "access_token_missing",
        "access_token_invalid",
        "access_token_other_pixel",
        "appsecret_proof_missing",
        "appsecret_proof_expired",
        "appsecret_proof_invalid",
    }
)


def authenticate(
    pixel_id: str,
    credentials: GraphCredentials,
    access_tokens: Mapping[str, str],
    app_secret: Optional[str],
    now: float,
) -> str:
    """Check the caller's token (and proof) for `pixel_id`; returns the scheme that verified
    (`access_token` or `access_token+appsecret_proof`), or raises GraphError."""
    token = credentials.access_token
    if token is None:
        raise GraphError(
            400,
            TOKEN_REQUIRED,
            "An access token is required to request this resource.",
            reason="access_token_missing",
            field=ACCESS_TOKEN,
        )
    given = token.encode("utf-8", "surrogatepass")
    matches = {pixel: hmac.compare_digest(given, expected.encode("utf-8")) for pixel, expected in access_tokens.items()}
    if not any(matches.values()):
        raise GraphError(
            400,
            INVALID_TOKEN,
            "Invalid OAuth access token - Cannot parse access token",
            reason="access_token_invalid",
            field=ACCESS_TOKEN,
        )
    # As Meta does: the proof belongs to the token, so it is checked before the object is looked up.
    if app_secret is not None:
        _check_proof(app_secret, token, credentials, now)
    if not matches.get(pixel_id, False):
        raise object_not_found(pixel_id, "access_token_other_pixel")
    # A proof without a configured secret cannot be checked; the forwarded request carries our own.
    return ACCESS_TOKEN if app_secret is None else ACCESS_TOKEN_AND_PROOF


def _check_proof(app_secret: str, token: str, credentials: GraphCredentials, now: float) -> None:
    proof = credentials.appsecret_proof
    if proof is None:
        raise GraphError(
            400,
            100,
            "API calls from the server require an appsecret_proof argument",
            reason="appsecret_proof_missing",
            field="appsecret_proof",
            type=METHOD_EXCEPTION,
        )
    if credentials.appsecret_time is None:
        expected = appsecret_proof(app_secret, token)
    else:
        at = credentials.appsecret_time
        if not at.isdigit() or len(at) > 12 or abs(now - int(at)) > APPSECRET_TIME_MAX_AGE_SECONDS:
            raise _bad_proof(
                f"appsecret_time must be Unix seconds within {APPSECRET_TIME_MAX_AGE_SECONDS} s of now", "expired"
            )
        expected, _ = appsecret_proof_timed(app_secret, token, int(at))
    if not hmac.compare_digest(proof.lower().encode("utf-8", "surrogatepass"), expected.encode("ascii")):
        raise _bad_proof(None, "invalid")


def _bad_proof(detail: Optional[str], kind: str) -> GraphError:
    return GraphError(
        400,
        100,
        "Invalid appsecret_proof provided in the API argument" + (f" ({detail})" if detail else ""),
        reason=f"appsecret_proof_{kind}",
        field="appsecret_proof",
        type=METHOD_EXCEPTION,
    )
