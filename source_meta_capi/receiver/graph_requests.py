"""Requests and errors in the Graph API's own forms (fact sheet §1.1, §6.1), for the Graph intake.

Pure (no I/O, no Starlette): `parse_graph_request` reads a `POST /{pixel_id}/events` body the
way Meta accepts it, and `GraphError` is the error envelope Meta answers with, so that Meta's SDKs
raise their usual `FacebookRequestError`.

Body forms (all seen from real clients, §1.1):
- JSON: `{"data": [event, …], "test_event_code": …}`; `data` may also be a JSON string.
- Form (`application/x-www-form-urlencoded`, what `facebook-business` 26.0.3 sends): each field
  form-encoded, `data` a JSON array whose elements are events or, as the SDK sends them, JSON
  strings of events; a repeated `data` field (one event each) is accepted too (RudderStack).
- Multipart (`multipart/form-data`, Meta's own curl example `-F 'data=[…]'`): the same fields.

`access_token`, `appsecret_proof` and `appsecret_time` may come in the query string or the body;
the token also as `Authorization: Bearer`. They are returned apart from the body, never staged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Optional
from urllib.parse import parse_qsl

import orjson

# Main-body fields of the events edge (§1.1) kept with the batch. The offline-upload ones are
# accepted and type-checked but not forwarded (docs/receiver.md, "Graph-compatible intake").
BODY_FIELDS = ("test_event_code", "partner_agent", "namespace_id", "upload_id", "upload_tag", "upload_source")
CREDENTIAL_FIELDS = ("access_token", "appsecret_proof", "appsecret_time")
# A form has a few fields, or one `data` field per event (at most 1,000 events, §1.2).
_MAX_FORM_FIELDS = 1100
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

# Graph error codes (§6.2) the intake answers with.
INVALID_PARAMETER = 100
TOKEN_REQUIRED = 104
INVALID_TOKEN = 190
SERVICE_UNAVAILABLE = 2
UNKNOWN_ERROR = 1
OBJECT_NOT_FOUND_SUBCODE = 33
UNKNOWN_PATH = 2500
OAUTH_EXCEPTION = "OAuthException"
METHOD_EXCEPTION = "GraphMethodException"


class GraphError(Exception):
    """A refused request, answered as Meta answers it: `{"error": {message, type, code,
    error_subcode, is_transient, error_user_title, error_user_msg, fbtrace_id}}` (§6.1).

    `reason` is a stable code for logs and metrics; `field` names what is at fault (never a value).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        reason: str,
        field: Optional[str] = None,
        type: str = OAUTH_EXCEPTION,
        subcode: Optional[int] = None,
        user_title: Optional[str] = None,
        user_msg: Optional[str] = None,
        is_transient: bool = False,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason
        self.field = field
        self.type = type
        self.subcode = subcode
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.headers = dict(headers or {})

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        """The JSON answer; `fbtrace_id` is the receiver's request id (it leads to our logs)."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.is_transient
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def invalid_parameter(message: str, *, reason: str, field: Optional[str] = None, **extra: Any) -> GraphError:
    """Meta's `(#100)` error for a request the caller must fix, HTTP 400."""
    return GraphError(400, INVALID_PARAMETER, f"(#100) {message}", reason=reason, field=field, **extra)


def object_not_found(pixel_id: str, reason: str = "unknown_pixel") -> GraphError:
    """Meta's 100/33: the pixel does not exist or the token cannot reach it (§6.2)."""
    return GraphError(
        400,
        INVALID_PARAMETER,
        f"Unsupported post request. Object with ID '{pixel_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        reason=reason,
        field="pixel_id",
        type=METHOD_EXCEPTION,
        subcode=OBJECT_NOT_FOUND_SUBCODE,
    )


@dataclass(frozen=True)
class GraphCredentials:
    """What the caller authenticates with. Secrets: never log or stage any of them."""

    access_token: Optional[str] = None
    appsecret_proof: Optional[str] = None
    appsecret_time: Optional[str] = None

    def __repr__(self) -> str:
        return f"GraphCredentials(token={'set' if self.access_token else 'none'})"


@dataclass(frozen=True)
class GraphRequest:
    """A parsed request: the CAPI body (`data` + main-body fields) and the credentials."""

    body: dict[str, Any]
    credentials: GraphCredentials


def parse_graph_request(
    raw: bytes,
    content_type: Optional[str],
    query: Iterable[tuple[str, str]] = (),
    authorization: Optional[str] = None,
) -> GraphRequest:
    """Parse a Graph-form events request; raises GraphError (400, code 100/104) for an unusable body."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    fields: list[tuple[str, Any]]
    if media in ("application/json", "text/json", "") or media.endswith("+json"):
        document = _json(raw, "body")
        if not isinstance(document, dict):
            raise invalid_parameter("the request body must be a JSON object", reason="invalid_body", field="body")
        fields = list(document.items())
    elif media == _FORM:
        fields = _form_fields(raw)
    elif media == _MULTIPART:
        fields = _multipart_fields(raw, content_type or "")
    else:
        raise invalid_parameter(
            f"Content-Type {media!r} is not accepted; send application/json or a form",
            reason="unsupported_media_type",
            field="content-type",
        )
    body: dict[str, Any] = {}
    data: list[Any] = []
    has_data = False
    credentials = _credential_values(query, authorization)
    for name, value in fields:
        if name in ("data", "data[]"):
            has_data = True
            data.extend(_events(value))
        elif name in credentials:
            credentials[name].append(value if isinstance(value, str) else str(value))
        elif name in BODY_FIELDS:
            if value is not None and not isinstance(value, str):
                raise invalid_parameter(f"param {name} must be a string", reason="invalid_body", field=name)
            body[name] = value
    if not has_data:
        raise invalid_parameter("The parameter data is required", reason="missing_data", field="data")
    body["data"] = data
    return GraphRequest(body, GraphCredentials(*(_one(name, credentials[name]) for name in CREDENTIAL_FIELDS)))


def outer_credentials(query: Iterable[tuple[str, str]] = (), authorization: Optional[str] = None) -> GraphCredentials:
    """The credentials found outside the body (query, Authorization), so that a request whose
    token is there can be authenticated before its body is parsed."""
    values = _credential_values(query, authorization)
    return GraphCredentials(*(_one(name, values[name]) for name in CREDENTIAL_FIELDS))


def _credential_values(query: Iterable[tuple[str, str]], authorization: Optional[str]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {name: [] for name in CREDENTIAL_FIELDS}
    for name, value in query:
        if name in values:
            values[name].append(value)
    bearer = _bearer(authorization)
    if bearer is not None:
        values["access_token"].append(bearer)
    return values


def _events(value: Any) -> list[Any]:
    """The events of one `data` value: an array, or a JSON string of an array or of one event;
    elements that are JSON strings (the SDK's form) are decoded. An element that is not an
    object stays as it is, so validation rejects that event alone."""
    if isinstance(value, str):
        value = _json(value, "data")
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise invalid_parameter("param data must be an array of events", reason="invalid_body", field="data")
    return [_event(element) for element in value]


def _event(element: Any) -> Any:
    if not isinstance(element, str):
        return element
    try:
        return orjson.loads(element)
    except orjson.JSONDecodeError:
        return element


def _one(name: str, values: list[str]) -> Optional[str]:
    distinct = {value.strip() for value in values if value.strip()}
    if len(distinct) > 1:
        # Two different tokens (or proofs) in one request: which one to check would be a guess.
        raise invalid_parameter(
            f"{name} is given more than once with different values", reason=f"conflicting_{name}", field=name
        )
    return distinct.pop() if distinct else None


def _bearer(authorization: Optional[str]) -> Optional[str]:
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    raise invalid_parameter(
        "the Authorization header must be 'Bearer <access token>'",
        reason="malformed_authorization",
        field="authorization",
    )


def _json(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise invalid_parameter(
            f"{where} is not valid JSON: {error.msg} at position {error.pos}", reason="malformed_json", field=where
        ) from None


def _form_fields(raw: bytes) -> list[tuple[str, Any]]:
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise invalid_parameter(
            "the form body cannot be parsed as UTF-8 url-encoded fields", reason="malformed_form", field="body"
        ) from None


def _multipart_fields(raw: bytes, content_type: str) -> list[tuple[str, Any]]:
    """The text fields of a multipart form, parsed by the standard library's MIME parser."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        raise invalid_parameter("the multipart body cannot be parsed", reason="malformed_form", field="body")
    fields: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        try:
            text = payload.decode(part.get_content_charset() or "utf-8") if isinstance(payload, bytes) else ""
        except (LookupError, UnicodeDecodeError):
            raise invalid_parameter(f"form field {name} is not UTF-8", reason="malformed_form", field=name) from None
        fields.append((name, text))
        if len(fields) > _MAX_FORM_FIELDS:
            raise invalid_parameter("the form has too many fields", reason="malformed_form", field="body")
    return fields
