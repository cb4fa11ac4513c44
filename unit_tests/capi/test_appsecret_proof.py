"""``appsecret_proof`` against the fact sheet's vectors (§7.4)."""

from __future__ import annotations

import pytest

from source_meta_capi.capi.appsecret_proof import appsecret_proof, appsecret_proof_timed

CLASSIC = "d5503592ed9effbf7f97bcd8a592fa7a151e7390cb008e13307cc0aac1eb2181"
TIMED = "3485b85fba1f762f74e8e9ae9bd86f48b7ae4c0c3877875ac550034f53f87da0"


def test_given_the_fact_sheet_vector_when_classic_then_matches() -> None:
    assert appsecret_proof("app_secret", "EAAB-token") == CLASSIC


def test_given_the_fact_sheet_vector_when_timed_then_matches_and_returns_the_time() -> None:
    assert appsecret_proof_timed("app_secret", "EAAB-token", 1700000000) == (TIMED, 1700000000)


def test_given_another_time_when_timed_then_another_proof() -> None:
    proof, _ = appsecret_proof_timed("app_secret", "EAAB-token", 1700000001)

    assert proof not in (TIMED, CLASSIC)


@pytest.mark.parametrize("unix_time", [1.5, -1, True, "1700000000"])
def test_given_a_non_integer_time_when_timed_then_value_error(unix_time: object) -> None:
    with pytest.raises(ValueError, match="unix_time"):
        appsecret_proof_timed("app_secret", "EAAB-token", unix_time)  # type: ignore[arg-type]


@pytest.mark.parametrize(("secret", "token", "name"), [("", "t", "app_secret"), ("s", "", "access_token")])
def test_given_an_empty_input_when_proving_then_value_error_without_the_value(
    secret: str, token: str, name: str
) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be a non-empty string$"):
        appsecret_proof(secret, token)
