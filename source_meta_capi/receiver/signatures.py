"""Webhook signatures over the raw body: Standard Webhooks v1 and Meta's X-Hub-Signature-256.

Pure functions over bytes, constant-time comparisons, one error type (`SignatureError`) whose
`reason` is a stable code and whose message says precisely what was wrong, never the secret or
the signature. Verification is implemented here rather than by wrapping the `standardwebhooks`
package because that package (fact sheet §9.3) has a fixed ±5 min tolerance, raises a bare
ValueError for a signature entry without a comma, and parses the body as JSON; the package is used
on the sender side of the tests, which is how interoperability is proven.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

STANDARD_WEBHOOKS: Final = "standard_webhooks"
HUB_SHA256: Final = "hub_sha256"
UNSIGNED: Final = "unsigned"

WEBHOOK_ID_HEADER: Final = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER: Final = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER: Final = "webhook-signature"
HUB_SIGNATURE_256_HEADER: Final = "x-hub-signature-256"
HUB_SIGNATURE_SHA1_HEADER: Final = "x-hub-signature"
SIGNATURE_HEADERS: Final = (
    WEBHOOK_ID_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    HUB_SIGNATURE_256_HEADER,
    HUB_SIGNATURE_SHA1_HEADER,
)

DEFAULT_TOLERANCE_S: Final = 300
SECRET_PREFIX: Final = "whsec_"
# The spec asks for 24-64 random bytes; shorter keys are refused rather than silently accepted.
MIN_SECRET_BYTES: Final = 24
# Bounds keep a hostile header from costing more than a few HMACs.
MAX_WEBHOOK_ID_LENGTH: Final = 256
MAX_SIGNATURE_ENTRIES: Final = 16
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """A request's signature cannot be accepted. `reason` is a stable code for metrics and clients;
    `header` names the header at fault (None when no signature header is involved)."""

    def __init__(self, reason: str, message: str, header: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.header = header


class SecretConfigError(ValueError):
    """A configured secret is unusable; the message names its position, never its value."""


@dataclass(frozen=True)
class VerifiedSignature:
    """How a request was authenticated. `webhook_id` is set for Standard Webhooks requests."""

    scheme: str
    webhook_id: str | None = None
    timestamp: int | None = None
    # Whether the credentials name the request's pixel: a secret of that pixel only, or a
    # Standard Webhooks id `<pixel_id>:…` (signed). An unbound signature can be replayed to
    # another pixel's path by whoever captured it.
    pixel_bound: bool = False

    @property
    def status(self) -> str:
        """The value staged as `signature_status`: `verified:<scheme>` or `unsigned`."""
        return UNSIGNED if self.scheme == UNSIGNED else f"verified:{self.scheme}"


def parse_webhook_secret(secret: str, position: int = 0) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in the reference library)."""
    text = secret.strip()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX) :]
    if not text:
        raise SecretConfigError(f"webhook secret #{position + 1} is empty")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SecretConfigError(f"webhook secret #{position + 1} is not whsec_ followed by base64") from error
    if len(key) < MIN_SECRET_BYTES:
        raise SecretConfigError(
            f"webhook secret #{position + 1} decodes to {len(key)} bytes; Standard Webhooks needs at least {MIN_SECRET_BYTES}"
        )
    return key


def sign_standard_webhook(secret: str | bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value (`v1,<base64>`) a sender puts on `body`."""
    key = secret if isinstance(secret, bytes) else parse_webhook_secret(secret)
    return f"v1,{base64.b64encode(_standard_mac(key, webhook_id, timestamp, body)).decode('ascii')}"


def sign_hub(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value (`sha256=<hex>`) Meta puts on `body`."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _standard_mac(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    # The one-shot form runs in OpenSSL without building an HMAC object.
    return hmac.digest(key, signed, "sha256")


def verify_standard_webhook(
    body: bytes,
    headers: Mapping[str, str],
    keys: Sequence[bytes],
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> VerifiedSignature:
    """Verify a Standard Webhooks v1 request. `headers` must have lowercase names.

    Accepts if any `v1` entry matches any key (rotation: several keys valid at once). Entries of
    other versions (`v1a`) are skipped; an entry without a comma or with bad base64 is malformed.
    The timestamp must be within `tolerance_s` of `now` in both directions.
    """
    if tolerance_s <= 0:
        raise ValueError("tolerance_s must be positive; there is no way to disable the timestamp check")
    if not keys:
        raise SignatureError(
            "standard_webhooks_not_configured",
            "Standard Webhooks headers were sent but no webhook secret is configured",
            WEBHOOK_SIGNATURE_HEADER,
        )
    missing = [
        name
        for name in (WEBHOOK_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER)
        if not headers.get(name)
    ]
    if missing:
        raise SignatureError("missing_header", f"missing or empty header(s): {', '.join(missing)}", missing[0])
    webhook_id = headers[WEBHOOK_ID_HEADER]
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH or not webhook_id.isprintable() or not webhook_id.isascii():
        raise SignatureError(
            "malformed_webhook_id",
            f"webhook-id must be at most {MAX_WEBHOOK_ID_LENGTH} printable ASCII characters",
            WEBHOOK_ID_HEADER,
        )
    raw_timestamp = headers[WEBHOOK_TIMESTAMP_HEADER]
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise SignatureError(
            "malformed_timestamp", "webhook-timestamp must be integer Unix seconds", WEBHOOK_TIMESTAMP_HEADER
        )
    timestamp = int(raw_timestamp)
    if timestamp < now - tolerance_s:
        raise SignatureError(
            "timestamp_too_old",
            f"webhook-timestamp is {int(now - timestamp)} s old; the tolerance is {tolerance_s} s",
            WEBHOOK_TIMESTAMP_HEADER,
        )
    if timestamp > now + tolerance_s:
        raise SignatureError(
            "timestamp_too_new",
            f"webhook-timestamp is {int(timestamp - now)} s in the future; the tolerance is {tolerance_s} s",
            WEBHOOK_TIMESTAMP_HEADER,
        )
    candidates = _v1_signatures(headers[WEBHOOK_SIGNATURE_HEADER])
    expected = [_standard_mac(key, webhook_id, timestamp, body) for key in keys]
    # Every pair is compared (no early exit) so timing does not reveal which key or entry matched.
    matched = False
    for candidate in candidates:
        for mac in expected:
            matched |= hmac.compare_digest(mac, candidate)
    if not matched:
        raise SignatureError(
            "no_matching_signature", "no webhook-signature entry matches a configured secret", WEBHOOK_SIGNATURE_HEADER
        )
    return VerifiedSignature(STANDARD_WEBHOOKS, webhook_id=webhook_id, timestamp=timestamp)


def _v1_signatures(header: str) -> list[bytes]:
    entries = header.split()
    if len(entries) > MAX_SIGNATURE_ENTRIES:
        raise SignatureError(
            "malformed_signature",
            f"webhook-signature has {len(entries)} entries; at most {MAX_SIGNATURE_ENTRIES} are accepted",
            WEBHOOK_SIGNATURE_HEADER,
        )
    found: list[bytes] = []
    for position, entry in enumerate(entries, start=1):
        version, comma, encoded = entry.partition(",")
        if not comma or not version or not encoded:
            raise SignatureError(
                "malformed_signature",
                f"webhook-signature entry {position} is not '<version>,<base64>'",
                WEBHOOK_SIGNATURE_HEADER,
            )
        if version != "v1":
            continue  # v1a (ed25519) and future versions are not ours to check (spec §9.2).
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError) as error:
            raise SignatureError(
                "malformed_signature",
                f"webhook-signature entry {position} is not valid base64",
                WEBHOOK_SIGNATURE_HEADER,
            ) from error
    if not found:
        raise SignatureError(
            "unsupported_signature_version", "webhook-signature has no v1 entry", WEBHOOK_SIGNATURE_HEADER
        )
    return found


def verify_hub_signature(body: bytes, header: str, app_secrets: Sequence[str]) -> VerifiedSignature:
    """Verify `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>` against any secret."""
    if not app_secrets:
        raise SignatureError(
            "hub_signature_not_configured",
            "X-Hub-Signature-256 was sent but no app secret is configured",
            HUB_SIGNATURE_256_HEADER,
        )
    scheme, equals, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not equals or not _HEX64.fullmatch(digest):
        raise SignatureError(
            "malformed_signature",
            "X-Hub-Signature-256 must be 'sha256=' followed by 64 hex digits",
            HUB_SIGNATURE_256_HEADER,
        )
    candidate = bytes.fromhex(digest)
    matched = False
    for secret in app_secrets:
        matched |= hmac.compare_digest(hmac.digest(secret.encode("utf-8"), body, "sha256"), candidate)
    if not matched:
        raise SignatureError(
            "no_matching_signature",
            "X-Hub-Signature-256 does not match a configured app secret",
            HUB_SIGNATURE_256_HEADER,
        )
    return VerifiedSignature(HUB_SHA256)


PIXEL_BINDING_MODES: Final = ("off", "strict")
# Separates the pixel id from the rest of a pixel-bound webhook-id: `1234567890:msg_2Kx…`.
PIXEL_ID_SEPARATOR: Final = ":"


def bound_webhook_id(pixel_id: str, message_id: str) -> str:
    """A webhook-id that binds a Standard Webhooks signature to `pixel_id` (the id is signed)."""
    return f"{pixel_id}{PIXEL_ID_SEPARATOR}{message_id}"


@dataclass(frozen=True)
class SignaturePolicy:
    """Which schemes are accepted, with which secrets. `allow_unsigned` is for local demos only.

    Binding to the pixel in the URL (which no scheme signs): a pixel listed in `pixel_webhook_keys`
    / `pixel_hub_secrets` is verified with its own secrets only, never the shared ones; with the
    shared Standard Webhooks secrets, a webhook-id `<pixel_id>:…` binds the request to that pixel
    and any other pixel refuses it. `pixel_binding="strict"` refuses every unbound request.
    """

    webhook_keys: tuple[bytes, ...] = ()
    hub_secrets: tuple[str, ...] = ()
    tolerance_s: int = DEFAULT_TOLERANCE_S
    allow_unsigned: bool = False
    pixel_webhook_keys: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    pixel_hub_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pixel_binding: str = "off"

    def verify(
        self, body: bytes, headers: Mapping[str, str], now: float, pixel_id: str | None = None
    ) -> VerifiedSignature:
        """Authenticate a request (lowercase header names) sent to `pixel_id`'s path.

        Standard Webhooks headers take precedence: when any of them is present the request must
        verify that way, so a failing timestamped signature can never fall back to the untimed
        hub scheme. The SHA-1 `X-Hub-Signature` alone is refused as too weak.
        """
        verified = self._verify(body, headers, now, pixel_id)
        if pixel_id is None or verified.scheme == UNSIGNED:
            return verified
        webhook_id = verified.webhook_id
        named = webhook_id.split(PIXEL_ID_SEPARATOR, 1)[0] if webhook_id and PIXEL_ID_SEPARATOR in webhook_id else ""
        # Only a digits prefix names a pixel: `msg:42` from an existing sender is not a binding.
        if named.isascii() and named.isdigit():
            if named != pixel_id:
                # Signed for another pixel: a replay to this path, whatever the binding mode.
                raise SignatureError(
                    "pixel_mismatch",
                    "webhook-id names another pixel than the request path; sign each request for its own pixel",
                    WEBHOOK_ID_HEADER,
                )
            verified = VerifiedSignature(verified.scheme, webhook_id, verified.timestamp, pixel_bound=True)
        if not verified.pixel_bound and self.pixel_binding == "strict":
            raise SignatureError(
                "pixel_not_bound",
                f"the signature does not name pixel {pixel_id}: sign with a secret of this pixel only "
                f"(META_CAPI_WEBHOOK_SECRETS_BY_PIXEL) or send webhook-id '{pixel_id}{PIXEL_ID_SEPARATOR}<message id>'",
                WEBHOOK_ID_HEADER,
            )
        return verified

    def _verify(self, body: bytes, headers: Mapping[str, str], now: float, pixel_id: str | None) -> VerifiedSignature:
        own_keys = self.pixel_webhook_keys.get(pixel_id) if pixel_id is not None else None
        own_hub = self.pixel_hub_secrets.get(pixel_id) if pixel_id is not None else None
        if any(
            headers.get(name) is not None
            for name in (WEBHOOK_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER)
        ):
            keys = own_keys if own_keys else self.webhook_keys
            verified = verify_standard_webhook(body, headers, keys, now, self.tolerance_s)
            return _bound(verified) if own_keys else verified
        hub = headers.get(HUB_SIGNATURE_256_HEADER)
        if hub is not None:
            verified = verify_hub_signature(body, hub, own_hub if own_hub else self.hub_secrets)
            return _bound(verified) if own_hub else verified
        if headers.get(HUB_SIGNATURE_SHA1_HEADER) is not None:
            raise SignatureError(
                "unsupported_signature_version",
                "X-Hub-Signature (SHA-1) is not accepted; send X-Hub-Signature-256",
                HUB_SIGNATURE_SHA1_HEADER,
            )
        if self.allow_unsigned:
            return VerifiedSignature(UNSIGNED)
        raise SignatureError(
            "missing_signature",
            "the request is not signed: send webhook-id, webhook-timestamp and webhook-signature "
            "(Standard Webhooks) or X-Hub-Signature-256",
        )


def _bound(verified: VerifiedSignature) -> VerifiedSignature:
    return VerifiedSignature(verified.scheme, verified.webhook_id, verified.timestamp, pixel_bound=True)
