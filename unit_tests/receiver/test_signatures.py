"""Signature verification: the fact sheet's vectors, rotation, tolerance, malformed headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from source_meta_capi.receiver.signatures import (
    SecretConfigError,
    SignatureError,
    SignaturePolicy,
    parse_webhook_secret,
    sign_hub,
    sign_standard_webhook,
    verify_hub_signature,
    verify_standard_webhook,
)

# Fact sheet §9.3 (matches the standardwebhooks library's own fixtures).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# Fact sheet §9.1.
HUB_SECRET = "app_secret"
HUB_BODY = b'{"object":"page","entry":[{"id":"1","time":1700000000,"changes":[]}]}'
HUB_SIGNATURE = "sha256=706441b16e195273c013057d603e36ee79d7bc1797334b5bebb39fc294503818"

KEY = parse_webhook_secret(VECTOR_SECRET)
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
OTHER_KEY = parse_webhook_secret(OTHER_SECRET)


def headers(
    signature: str = VECTOR_SIGNATURE, webhook_id: str = VECTOR_ID, timestamp: object = VECTOR_TS
) -> dict[str, str]:
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def reason(body: bytes, given: dict[str, str], keys=(KEY,), now: float = VECTOR_TS, tolerance: int = 300) -> str:
    with pytest.raises(SignatureError) as raised:
        verify_standard_webhook(body, given, keys, now, tolerance)
    return raised.value.reason


def test_given_fact_sheet_vector_when_signing_then_signature_matches() -> None:
    assert sign_standard_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign_hub(HUB_SECRET, HUB_BODY) == HUB_SIGNATURE


def test_given_fact_sheet_vector_when_verifying_at_its_time_then_accepted() -> None:
    verified = verify_standard_webhook(VECTOR_BODY, headers(), [KEY], now=VECTOR_TS)
    assert (verified.scheme, verified.webhook_id, verified.timestamp) == ("standard_webhooks", VECTOR_ID, VECTOR_TS)
    assert verified.status == "verified:standard_webhooks"
    assert verify_hub_signature(HUB_BODY, HUB_SIGNATURE, [HUB_SECRET]).status == "verified:hub_sha256"


def test_given_library_signature_when_verifying_then_accepted() -> None:
    now = datetime.now(timezone.utc)
    body = '{"data": [{"event_name": "Lead"}]}'
    signature = Webhook(OTHER_SECRET).sign("msg_lib", now, body)
    verified = verify_standard_webhook(
        body.encode(), headers(signature, "msg_lib", int(now.timestamp())), [OTHER_KEY], now.timestamp()
    )
    assert verified.webhook_id == "msg_lib"


def test_given_rotation_when_either_secret_or_either_entry_matches_then_accepted() -> None:
    new_signature = sign_standard_webhook(OTHER_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    # Sender signs with the new key only; receiver knows both.
    verify_standard_webhook(VECTOR_BODY, headers(new_signature), [KEY, OTHER_KEY], VECTOR_TS)
    # Sender sends both signatures during the overlap; receiver knows only the new one.
    verify_standard_webhook(VECTOR_BODY, headers(f"{VECTOR_SIGNATURE} {new_signature}"), [OTHER_KEY], VECTOR_TS)
    # A retired key is refused.
    assert reason(VECTOR_BODY, headers(), keys=(OTHER_KEY,)) == "no_matching_signature"


@pytest.mark.parametrize(
    ("offset", "tolerance", "expected"),
    [
        (-301, 300, "timestamp_too_old"),
        (301, 300, "timestamp_too_new"),
        (-61, 60, "timestamp_too_old"),
        (61, 60, "timestamp_too_new"),
    ],
)
def test_given_timestamp_outside_tolerance_when_verifying_then_refused_both_directions(
    offset: int, tolerance: int, expected: str
) -> None:
    assert reason(VECTOR_BODY, headers(), now=VECTOR_TS - offset, tolerance=tolerance) == expected


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_given_timestamp_at_tolerance_edge_when_verifying_then_accepted(offset: int) -> None:
    verify_standard_webhook(VECTOR_BODY, headers(), [KEY], VECTOR_TS + offset, 300)


def test_given_zero_tolerance_when_verifying_then_no_way_to_disable_the_check() -> None:
    with pytest.raises(ValueError, match="positive"):
        verify_standard_webhook(VECTOR_BODY, headers(), [KEY], VECTOR_TS, 0)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS)}, "missing_header"),
        (headers(webhook_id=""), "missing_header"),
        (headers(timestamp="+1614265330"), "malformed_timestamp"),
        (headers(timestamp=" 1614265330"), "malformed_timestamp"),
        (headers(timestamp="1614265330.0"), "malformed_timestamp"),
        (headers(timestamp="1_614_265_330"), "malformed_timestamp"),
        (headers(timestamp="９"), "malformed_timestamp"),
        (headers(signature="g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "malformed_signature"),
        (headers(signature="v1,"), "malformed_signature"),
        (headers(signature="v1,not*base64"), "malformed_signature"),
        (headers(signature="v1a,AAAA"), "unsupported_signature_version"),
        (headers(signature=" ".join([VECTOR_SIGNATURE] * 17)), "malformed_signature"),
        (headers(webhook_id="msg\nx"), "malformed_webhook_id"),
        (headers(webhook_id="m" * 257), "malformed_webhook_id"),
        (headers(signature="v1,AAAA"), "no_matching_signature"),
    ],
)
def test_given_malformed_headers_when_verifying_then_one_error_type_with_precise_reason(
    given: dict[str, str], expected: str
) -> None:
    assert reason(VECTOR_BODY, given) == expected


def test_given_v1a_beside_v1_when_verifying_then_v1a_is_skipped() -> None:
    verify_standard_webhook(VECTOR_BODY, headers(f"v1a,AAAA {VECTOR_SIGNATURE}"), [KEY], VECTOR_TS)


def test_given_tampered_body_or_id_or_timestamp_when_verifying_then_refused() -> None:
    assert reason(VECTOR_BODY + b" ", headers()) == "no_matching_signature"
    assert reason(VECTOR_BODY, headers(webhook_id="msg_other")) == "no_matching_signature"
    assert reason(VECTOR_BODY, headers(timestamp=VECTOR_TS + 1), now=VECTOR_TS) == "no_matching_signature"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sha256=" + "0" * 64, "no_matching_signature"),
        ("sha1=" + "0" * 40, "malformed_signature"),
        ("sha256=" + "0" * 63, "malformed_signature"),
        ("sha256=" + "z" * 64, "malformed_signature"),
        ("", "malformed_signature"),
    ],
)
def test_given_bad_hub_signature_when_verifying_then_refused(header: str, expected: str) -> None:
    with pytest.raises(SignatureError) as raised:
        verify_hub_signature(HUB_BODY, header, [HUB_SECRET])
    assert raised.value.reason == expected


def test_given_hub_rotation_when_verifying_then_any_secret_matches() -> None:
    header = "sha256=" + hmac.new(b"new-secret", HUB_BODY, hashlib.sha256).hexdigest().upper()
    assert verify_hub_signature(HUB_BODY, header, ["old-secret", "new-secret"]).scheme == "hub_sha256"


def test_given_both_schemes_when_standard_webhook_fails_then_no_fallback_to_hub() -> None:
    policy = SignaturePolicy(webhook_keys=(KEY,), hub_secrets=(HUB_SECRET,))
    mixed = {**headers(), "x-hub-signature-256": sign_hub(HUB_SECRET, VECTOR_BODY)}
    with pytest.raises(SignatureError) as raised:
        policy.verify(VECTOR_BODY, mixed, now=VECTOR_TS + 10_000)
    assert raised.value.reason == "timestamp_too_old"


def test_given_policy_when_unsigned_or_sha1_then_refused_unless_unsigned_allowed() -> None:
    strict = SignaturePolicy(webhook_keys=(KEY,))
    for given, expected in (
        ({}, "missing_signature"),
        ({"x-hub-signature": "sha1=00"}, "unsupported_signature_version"),
    ):
        with pytest.raises(SignatureError) as raised:
            strict.verify(b"{}", given, now=0)
        assert raised.value.reason == expected
    assert SignaturePolicy(allow_unsigned=True).verify(b"{}", {}, now=0).status == "unsigned"


def test_given_hub_header_without_hub_secret_when_verifying_then_not_configured() -> None:
    with pytest.raises(SignatureError) as raised:
        SignaturePolicy(webhook_keys=(KEY,)).verify(HUB_BODY, {"x-hub-signature-256": HUB_SIGNATURE}, now=0)
    assert raised.value.reason == "hub_signature_not_configured"


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_given_unusable_secret_when_parsing_then_error_names_position_not_value(secret: str) -> None:
    with pytest.raises(SecretConfigError) as raised:
        parse_webhook_secret(secret, position=1)
    assert "#2" in str(raised.value)
    assert secret[6:] == "" or secret[6:] not in str(raised.value)


def test_given_secret_without_prefix_when_parsing_then_same_key() -> None:
    assert parse_webhook_secret(VECTOR_SECRET[len("whsec_") :]) == KEY
