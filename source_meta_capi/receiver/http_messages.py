"""The HTTP messages of the receiver: reading a bounded body, signature headers, request ids,
and the JSON answers (the accepted-batch answer, and `ApiError`, the error every non-2xx carries)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from source_meta_capi.receiver.pipeline import Intake, rejection_json
from source_meta_capi.receiver.signatures import SIGNATURE_HEADERS, SignatureError

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class PayloadTooLargeError(Exception):
    """The body is larger than the configured limit (answered 413)."""


class BodyTimeoutError(Exception):
    """The body did not arrive in full within the configured time (answered 408)."""


# Headers an HTTP parser in front of us might let through (httptools sets no limit of its own):
# signature, content and id headers are short; 16 KiB of them is a hostile or broken client.
MAX_HEADER_BYTES = 16 * 1024


def headers_too_large(request: Request) -> bool:
    """Whether the request's header block exceeds MAX_HEADER_BYTES (answered 431)."""
    total = 0
    for name, value in request.scope["headers"]:
        total += len(name) + len(value) + 4
    return total > MAX_HEADER_BYTES


def answer_for(intake: Intake) -> tuple[int, dict[str, Any]]:
    """The status and body answering a processed batch."""
    context = intake.context
    rejections = [rejection_json(r) for r in intake.rejections]
    body: dict[str, Any] = {
        "pixel_id": context.pixel_id,
        "batch_id": context.batch_id,
        "request_id": context.request_id,
        "events_received": intake.events_received,
        "events_accepted": len(intake.accepted),
        "events_rejected": intake.events_received - len(intake.accepted),
        "event_ids": intake.accepted_event_ids,
        "rejections": rejections,
    }
    if intake.accepted:
        return 200, body
    first = intake.rejections[0] if intake.rejections else None
    body["error"] = {
        "code": "all_events_rejected",
        "message": "no event of the batch is valid; each was dead-lettered with its reason (see rejections)",
        "pixel_id": context.pixel_id,
        "event_ids": sorted({r.event_id for r in intake.rejections if r.event_id is not None}),
        "field": first.field if first else None,
        "request_id": context.request_id,
    }
    return 422, body


class ApiError(Exception):
    """A refused request: the answer's status, JSON error and headers, raised by the step that
    refuses it and rendered once by the endpoint (`response`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: Optional[str] = None,
        pixel_id: Optional[str] = None,
        event_ids: tuple[str, ...] = (),
        headers: Optional[Mapping[str, str]] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.pixel_id = pixel_id
        self.event_ids = event_ids
        self.headers = headers
        self.extra = extra

    def response(self, request_id: str) -> JSONResponse:
        """The JSON error every non-2xx answer carries:
        `{"error": {code, message, pixel_id, event_ids, field, request_id, …extra}}`."""
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "pixel_id": self.pixel_id,
            "event_ids": list(self.event_ids),
            "field": self.field,
            "request_id": request_id,
        }
        if self.extra:
            error.update(self.extra)
        return JSONResponse({"error": error}, status_code=self.status, headers=dict(self.headers or {}))


class RequestHeaders:
    """The headers the events endpoint reads, gathered in one pass over the raw ASGI list (whose
    names arrive lowercase): Starlette's `Headers` rescans every header for each lookup."""

    __slots__ = ("_values",)
    _WANTED = frozenset(
        name.encode("latin-1")
        for name in (*SIGNATURE_HEADERS, "x-request-id", "content-type", "content-encoding", "content-length")
    )

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        values: dict[bytes, list[bytes]] = {}
        wanted = self._WANTED
        for name, value in raw:
            if name in wanted:
                values.setdefault(name, []).append(value)
        self._values = values

    @classmethod
    def of(cls, request: Request) -> RequestHeaders:
        """The snapshot of a request's headers."""
        return cls(request.scope["headers"])

    def get(self, name: str) -> Optional[str]:
        """The first value of `name` (lowercase), like `Headers.get`; None when absent."""
        values = self._values.get(name.encode("latin-1"))
        return values[0].decode("latin-1") if values else None

    def getlist(self, name: str) -> list[str]:
        """Every value of `name` (lowercase), in order."""
        return [value.decode("latin-1") for value in self._values.get(name.encode("latin-1"), ())]


def check_content_encoding(headers: RequestHeaders, pixel_id: str) -> None:
    """Refuse (ApiError 415) a compressed body (shared step)."""
    encoding = (headers.get("content-encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(
            415,
            "unsupported_content_encoding",
            f"Content-Encoding {encoding!r} is not accepted; send the body uncompressed",
            pixel_id=pixel_id,
            field="content-encoding",
        )


async def read_limited(
    request: Request, limit: int, declared: Optional[str] = None, timeout_s: Optional[float] = None
) -> bytes:
    """Read the body, refusing (before reading it all) one larger than `limit` bytes, or one that
    takes longer than `timeout_s` to arrive (a slow sender holds a connection and a buffer).

    `declared` is the Content-Length header (read from the request when not given).
    """
    if timeout_s is None:
        return await _read_limited(request, limit, declared)
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_limited(request, limit, declared)
    except TimeoutError:
        raise BodyTimeoutError from None


async def _read_limited(request: Request, limit: int, declared: Optional[str]) -> bytes:
    if declared is None:
        declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ValueError("Content-Length must be a non-negative integer")
        if int(declared) > limit:
            raise PayloadTooLargeError
    # Starlette's `Request.stream()`, without the async generator (each one is registered with
    # the event loop's shutdown hooks: a visible per-request cost for one-chunk bodies).
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def signature_headers(headers: RequestHeaders) -> dict[str, str]:
    """The signature headers, lowercase; a repeated one is refused (a proxy and we could disagree)."""
    found: dict[str, str] = {}
    for name in SIGNATURE_HEADERS:
        values = headers.getlist(name)
        if len(values) > 1:
            raise SignatureError("duplicate_header", f"header {name} appears {len(values)} times", name)
        if values:
            found[name] = values[0]
    return found


def request_id_of(request: Request | RequestHeaders) -> str:
    """The caller's X-Request-Id when it is a safe token, else a new random id."""
    given = request.get("x-request-id") if isinstance(request, RequestHeaders) else request.headers.get("x-request-id")
    # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID object.
    return given if given and _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
