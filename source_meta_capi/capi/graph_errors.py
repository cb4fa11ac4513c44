"""Graph API error responses: parsing, classification, user messages and secret redaction.

Pure and stdlib-only so the receiver (Lambda), the events client and the declarative source's
error handler all classify Meta's answers the same way (fact sheet §6.1, §6.2).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BodyKind",
    "ErrorClass",
    "GraphError",
    "classify",
    "describe_for_user",
    "parse_graph_error",
    "redact_secrets",
    "transport_error",
]

BodyKind = Literal["json", "html", "text", "empty", "none"]
"""What the error body looked like; ``none`` means no HTTP response arrived at all."""


class ErrorClass(enum.Enum):
    """What a caller should do about a Graph API error (fact sheet §6.2)."""

    TRANSIENT = "transient"
    """Retry with jittered exponential backoff."""
    THROTTLED = "throttled"
    """Retry after the usage headers say access is regained."""
    POLICY_BLOCK = "policy_block"
    """Code 368: wait long, retry slowly, and alert a human (the account is being restricted)."""
    PERMANENT = "permanent"
    """The payload is wrong: never resend it unchanged; dead-letter it."""
    AUTH = "auth"
    """Token, permission or pixel access problem: pause and alert; only a config change fixes it."""

    @property
    def retryable(self) -> bool:
        """Whether resending the same payload later can succeed."""
        return self in (
            ErrorClass.TRANSIENT,
            ErrorClass.THROTTLED,
            ErrorClass.POLICY_BLOCK,
        )


@dataclass(frozen=True)
class GraphError:
    """One Graph API error, as parsed from a response (messages already redacted)."""

    http_status: int | None
    code: int | None
    subcode: int | None
    type: str | None
    message: str
    user_title: str | None = None
    user_msg: str | None = None
    is_transient: bool = False
    fbtrace_id: str | None = None
    blame_field_specs: tuple[tuple[str, ...], ...] = ()
    body_kind: BodyKind = "json"

    @property
    def error_class(self) -> ErrorClass:
        """The retry class of this error (see :func:`classify`)."""
        return classify(self)

    @property
    def code_label(self) -> str:
        """``code/subcode`` (or ``HTTP <status>`` when Meta sent no code), for messages."""
        if self.code is None:
            return f"HTTP {self.http_status}" if self.http_status is not None else "no response"
        if self.subcode is None:
            return str(self.code)
        return f"{self.code}/{self.subcode}"


# §6.2: Meta's throttling codes; 80000-80014 are the business-use-case limits.
_THROTTLE_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80000, 80015))
_POLICY_BLOCK_CODE = 368
# §6.2: 10 and 200-299 are permission errors, 102 an expired session, 190 a bad token;
# code 3 (app lacks the capability) is an app configuration problem RudderStack also aborts on;
# 104 is Graph's "An access token is required", a config error in any request.
_AUTH_CODES = frozenset({3, 10, 102, 104, 190}) | frozenset(range(200, 300))
_OBJECT_ACCESS_SUBCODE = 33
_TRANSIENT_CODES = frozenset({1, 2})
_TOKEN_SUBCODE_HINTS: Mapping[int, str] = {
    458: "the app is not installed for this user",
    459: "the user is checkpointed and must log in to Facebook",
    460: "the password changed since the token was issued",
    463: "the token expired",
    464: "the user is not confirmed",
    467: "the token is invalid",
    492: "the session is invalid",
}

_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<\?xml|<head|<body)", re.IGNORECASE)


def parse_graph_error(
    http_status: int | None,
    headers: Mapping[str, str] | None,
    body: bytes | str | None,
) -> GraphError:
    """Parse an error response in any shape Meta (or a proxy in front of it) produces.

    Handles the JSON envelope of §6.1 (including ``error_data`` sent as a JSON string), HTML
    error pages, plain text and empty bodies. Never raises. ``headers`` may be any mapping; the
    ``x-fb-trace-id`` header fills ``fbtrace_id`` when the body has none.
    """
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else (body or b"")
    header_trace = _header(headers, "x-fb-trace-id")
    if not raw.strip():
        return GraphError(
            http_status, None, None, None, _status_message(http_status, "an empty body"),
            fbtrace_id=header_trace, body_kind="empty",
        )  # fmt: skip
    if _HTML_START.match(raw):
        return GraphError(
            http_status, None, None, None, _status_message(http_status, "an HTML page"),
            fbtrace_id=header_trace, body_kind="html",
        )  # fmt: skip
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        document = None
    envelope = document.get("error") if isinstance(document, dict) else None
    if not isinstance(envelope, dict):
        snippet = redact_secrets(raw[:200].decode("utf-8", "replace").strip())
        kind: BodyKind = "json" if document is not None else "text"
        message = _status_message(http_status, f"a body without a Graph error: {snippet!r}")
        return GraphError(
            http_status,
            None,
            None,
            None,
            message,
            fbtrace_id=header_trace,
            body_kind=kind,
        )
    return GraphError(
        http_status=http_status,
        code=_as_int(envelope.get("code")),
        subcode=_as_int(envelope.get("error_subcode")),
        type=_as_str(envelope.get("type")),
        message=redact_secrets(_as_str(envelope.get("message")) or "(no message)"),
        user_title=_redacted_or_none(envelope.get("error_user_title")),
        user_msg=_redacted_or_none(envelope.get("error_user_msg")),
        is_transient=envelope.get("is_transient") is True,
        fbtrace_id=_as_str(envelope.get("fbtrace_id")) or header_trace,
        blame_field_specs=_blame_field_specs(envelope.get("error_data")),
        body_kind="json",
    )


def transport_error(message: str) -> GraphError:
    """A failure with no HTTP response (timeout, connection reset); always transient (§6.2)."""
    return GraphError(
        None,
        None,
        None,
        None,
        redact_secrets(message),
        is_transient=True,
        body_kind="none",
    )


def classify(error: GraphError) -> ErrorClass:
    """Map an error to its retry class, following the fact sheet §6.2 table.

    Precedence: throttling and policy codes first (their backoff is longer than a transient
    one even when Meta also sets ``is_transient``), then ``is_transient``, auth codes, the
    transient codes 1 and 2, the remaining codes 100 and 2500, and finally the HTTP status
    for unknown codes and bodies without a Graph error.
    """
    code = error.code
    if code in _THROTTLE_CODES:
        return ErrorClass.THROTTLED
    if code == _POLICY_BLOCK_CODE:
        return ErrorClass.POLICY_BLOCK
    if error.is_transient or code in _TRANSIENT_CODES:
        return ErrorClass.TRANSIENT
    if code in _AUTH_CODES or (code == 100 and error.subcode == _OBJECT_ACCESS_SUBCODE):
        return ErrorClass.AUTH
    # §7.4: a missing or wrong appsecret_proof comes back as a plain code 100, but only a
    # config change (the right app secret) fixes it. ``message`` is never localized.
    if code == 100 and "appsecret_proof" in error.message:
        return ErrorClass.AUTH
    if code in (100, 2500):
        return ErrorClass.PERMANENT
    status = error.http_status
    # §6.2: HTML bodies and missing responses are what proxies and outages produce: retry.
    if error.body_kind in ("html", "none") or (status is not None and status >= 500):
        return ErrorClass.TRANSIENT
    if status == 429:
        return ErrorClass.THROTTLED
    if status in (408, 425):
        return ErrorClass.TRANSIENT
    if status in (401, 403):
        return ErrorClass.AUTH
    return ErrorClass.PERMANENT


def describe_for_user(error: GraphError, pixel_id: str) -> str:
    """An actionable, token-free sentence for the user about ``error`` on ``pixel_id``."""
    label = error.code_label
    error_class = classify(error)
    if error.code == 190:
        hint = _TOKEN_SUBCODE_HINTS.get(error.subcode or 0, "the token was rejected")
        text = (
            f"Access token is invalid or expired ({label}) for pixel {pixel_id}: {hint}. "
            "Generate a new system-user token (Business Settings > System users, or Events "
            "Manager > dataset > Settings > Generate access token) and update the connector "
            "configuration."
        )
    elif error.code == 100 and error.subcode == _OBJECT_ACCESS_SUBCODE:
        text = (
            f"The token has no access to pixel {pixel_id} ({label}): the pixel or dataset does "
            "not exist or is not shared with the token's system user. Check the pixel id and "
            "assign the pixel to the system user in Business Settings."
        )
    elif error_class is ErrorClass.AUTH and "appsecret_proof" in error.message:
        text = (
            f"Meta refused the appsecret_proof ({label}) for pixel {pixel_id}: configure the "
            "app secret of the app that issued the token, or leave it empty if the app does "
            "not require one."
        )
    elif error.code == 102:
        text = (
            f"The API session expired ({label}) for pixel {pixel_id}: generate a new token and "
            "update the connector configuration."
        )
    elif error_class is ErrorClass.AUTH:
        text = (
            f"The token lacks a permission needed for pixel {pixel_id} ({label}): grant the "
            "system user access to the pixel (Manage Pixel / Use events dataset) and the app "
            "the ads_management or ads_read permission, then generate a new token."
        )
    elif error_class is ErrorClass.POLICY_BLOCK:
        text = (
            f"Meta temporarily blocked calls for pixel {pixel_id} for a policy violation "
            f"({label}): review Account Quality in Business Support Home; sending resumes "
            "slowly once the block lifts."
        )
    elif error_class is ErrorClass.THROTTLED:
        text = (
            f"Meta's rate limit was reached ({label}) for pixel {pixel_id}: the connector backs "
            "off as Meta's usage headers advise. If this persists, sync less often or raise "
            "the app's Marketing API access tier."
        )
    elif error_class is ErrorClass.TRANSIENT:
        text = (
            f"Meta returned a temporary error ({label}) for pixel {pixel_id}: "
            f"{error.message.rstrip('.')}. It is retried automatically."
        )
    elif error.code == 2500:
        text = (
            f"The Graph API does not know this path ({label}) for pixel {pixel_id}: check the "
            "configured API version and endpoint. This is a connector or configuration bug."
        )
    else:
        detail = ": ".join(part for part in (error.user_title, error.user_msg) if part)
        text = (
            f"Meta rejected the request for pixel {pixel_id} ({label}): "
            f"{(detail or error.message).rstrip('.')}. Fix the event data; it is not retried."
        )
    if error.fbtrace_id:
        text += f" (fbtrace_id {error.fbtrace_id})"
    return redact_secrets(text)


_MASK = "***"
# Query/form parameters and JSON keys whose values are credentials (§7).
_SECRET_PARAMS = (
    "access_token",
    "input_token",
    "fb_exchange_token",
    "appsecret_proof",
    "client_secret",
)
_PARAM_PATTERN = re.compile(
    r"(?P<key>\b(?:" + "|".join(_SECRET_PARAMS) + r"))"
    r"""(?P<sep>["']?\s*[:=]\s*["']?|%3D)(?P<value>[^&\s"',;#)}\]]+)""",
    re.IGNORECASE,
)
_BEARER_PATTERN = re.compile(r"(?P<key>\bBearer)(?P<sep>\s+)(?P<value>[A-Za-z0-9._~+/|=-]+)", re.IGNORECASE)
# §7.1/§7.2: user and system-user tokens start with "EAA"; app tokens are "{app_id}|{secret}".
_BARE_TOKEN_PATTERN = re.compile(r"\bEAA[A-Za-z0-9]{16,}|\b\d{5,}\|[A-Za-z0-9_-]{16,}")


def redact_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials in ``text``: secret-valued parameters, bearer tokens, bare tokens.

    ``secrets`` are extra literal values (the token in use, the app secret) to mask wherever
    they appear, because Meta's messages can echo a token with no recognisable prefix.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _MASK)
    text = _PARAM_PATTERN.sub(lambda m: f"{m['key']}{m['sep']}{_MASK}", text)
    text = _BEARER_PATTERN.sub(lambda m: f"{m['key']}{m['sep']}{_MASK}", text)
    return _BARE_TOKEN_PATTERN.sub(_MASK, text)


def _status_message(http_status: int | None, what: str) -> str:
    return f"HTTP {http_status} with {what}" if http_status is not None else f"Response {what}"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _redacted_or_none(value: object) -> str | None:
    text = _as_str(value)
    return redact_secrets(text) if text is not None else None


def _blame_field_specs(error_data: object) -> tuple[tuple[str, ...], ...]:
    # §6.1: error_data is sometimes a JSON string rather than an object, as the SDK handles.
    if isinstance(error_data, str):
        try:
            error_data = json.loads(error_data)
        except ValueError:
            return ()
    if not isinstance(error_data, dict):
        return ()
    specs = error_data.get("blame_field_specs")
    if not isinstance(specs, list):
        return ()
    result: list[tuple[str, ...]] = []
    for spec in specs:
        if isinstance(spec, list):
            result.append(tuple(str(part) for part in spec))
        elif isinstance(spec, (str, int)):
            result.append((str(spec),))
    return tuple(result)
