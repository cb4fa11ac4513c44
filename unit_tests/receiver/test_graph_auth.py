"""The Graph intake's authentication: the pixel's configured token, and appsecret_proof (§7.4)."""

from __future__ import annotations

import pytest

from source_meta_capi.capi.appsecret_proof import appsecret_proof, appsecret_proof_timed
from source_meta_capi.receiver.graph_auth import AUTHENTICATION_REASONS, authenticate
from source_meta_capi.receiver.graph_requests import GraphCredentials, GraphError

TOKENS = {"111": "EAAB-token", "222": "EAAB-other"}
NOW = 1_700_000_100.0


def refused(credentials: GraphCredentials, pixel: str = "111", secret: str | None = "app_secret") -> GraphError:
    with pytest.raises(GraphError) as caught:
        authenticate(pixel, credentials, TOKENS, secret, NOW)
    assert caught.value.reason in AUTHENTICATION_REASONS
    return caught.value


def test_given_fact_sheet_vectors_when_authenticating_then_both_proof_forms_verify() -> None:
    classic = GraphCredentials("EAAB-token", "d5503592ed9effbf7f97bcd8a592fa7a151e7390cb008e13307cc0aac1eb2181")
    timed = GraphCredentials(
        "EAAB-token", "3485b85fba1f762f74e8e9ae9bd86f48b7ae4c0c3877875ac550034f53f87da0", "1700000000"
    )
    assert authenticate("111", classic, TOKENS, "app_secret", NOW) == "access_token+appsecret_proof"
    assert authenticate("111", timed, TOKENS, "app_secret", NOW) == "access_token+appsecret_proof"


def test_given_no_app_secret_when_authenticating_then_token_alone_suffices() -> None:
    assert authenticate("111", GraphCredentials("EAAB-token"), TOKENS, None, NOW) == "access_token"


def test_given_missing_or_unknown_token_when_authenticating_then_104_or_190() -> None:
    assert (refused(GraphCredentials()).code, refused(GraphCredentials()).status) == (104, 400)
    invalid = refused(GraphCredentials("EAAB-nope"))
    assert (invalid.code, invalid.type) == (190, "OAuthException")
    # An unconfigured pixel with a token nobody has: still 190 (the token is checked first, as Meta does).
    assert refused(GraphCredentials("EAAB-nope"), pixel="333").code == 190


def test_given_token_of_another_pixel_when_authenticating_then_100_33_after_its_proof() -> None:
    error = refused(GraphCredentials("EAAB-other", appsecret_proof("app_secret", "EAAB-other")))
    assert (error.code, error.subcode, error.type) == (100, 33, "GraphMethodException")
    # The proof is the token's, checked first (as Meta and the Graph stand-in do).
    assert refused(GraphCredentials("EAAB-other")).reason == "appsecret_proof_missing"


@pytest.mark.parametrize(
    ("proof", "at", "reason"),
    [
        (None, None, "appsecret_proof_missing"),
        (appsecret_proof("another_secret", "EAAB-token"), None, "appsecret_proof_invalid"),
        (appsecret_proof("app_secret", "EAAB-other"), None, "appsecret_proof_invalid"),
        (appsecret_proof_timed("app_secret", "EAAB-token", 1_699_999_000)[0], "1699999000", "appsecret_proof_expired"),
        (appsecret_proof_timed("app_secret", "EAAB-token", 1_700_000_500)[0], "1700000500", "appsecret_proof_expired"),
        ("abc", "not-a-time", "appsecret_proof_expired"),
        (appsecret_proof("app_secret", "EAAB-token"), "1700000000", "appsecret_proof_invalid"),
    ],
)
def test_given_bad_proof_when_authenticating_then_metas_code_100(
    proof: str | None, at: str | None, reason: str
) -> None:
    error = refused(GraphCredentials("EAAB-token", proof, at))
    assert (error.status, error.code, error.type, error.reason) == (400, 100, "GraphMethodException", reason)
    assert "EAAB" not in error.message


def test_given_uppercase_hex_proof_when_authenticating_then_accepted() -> None:
    proof = appsecret_proof("app_secret", "EAAB-token").upper()
    assert authenticate("111", GraphCredentials("EAAB-token", proof), TOKENS, "app_secret", NOW)
